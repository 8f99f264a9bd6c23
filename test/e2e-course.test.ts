import { until } from '@kap/testkit/poll';
import type { Bundle, CarePlan } from '@medplum/fhirtypes';
import request from 'supertest';
import { auditEhr, ehrAll } from '@kap/testkit/ehr-audit';
import { assertBundleInvariants } from '@kap/testkit/fhir-invariants';
import { screeningRequest, courseStartYesterday } from '@kap/testkit/requests';
import { startStack, startWebhookReceiver, type Stack } from '@kap/testkit/stack';

jest.setTimeout(120_000);

const session = (n: 1 | 2, start: Date) => ({
  sessionNumber: n,
  doseLevel: n === 1 ? 'low' : 'moderate',
  route: 'intramuscular',
  dose: { value: n === 1 ? 0.5 : 0.75, unit: 'mg/kg' },
  start: start.toISOString(),
  end: new Date(start.getTime() + 90 * 60_000).toISOString(),
  vitals: [
    { at: start.toISOString(), systolic: 128, diastolic: 80, heartRate: 72, spo2: 98 },
    { at: new Date(start.getTime() + 40 * 60_000).toISOString(), systolic: 142, diastolic: 88, heartRate: 84 },
  ],
  experience: { dissociation: n === 1 ? 4 : 7, egoDissolution: n === 1 ? 2 : 6, distress: 1 },
});

describe('a full KAP course reaches the EHR exactly once', () => {
  let stack: Stack;
  let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;

  beforeAll(async () => {
    hooks = await startWebhookReceiver();
    stack = await startStack({ WEBHOOK_URLS: hooks.url });
    stack.startWorker();
  });
  afterAll(async () => {
    await stack?.close();
    await hooks?.close();
  });

  it('runs screening, course, two sessions with follow-ups, goals of care and completion', async () => {
    const app = stack.app;
    const screening = await request(app).post('/v1/screenings').send(screeningRequest()).expect(201);
    expect(screening.body.outcome).toBe('eligible');
    const course = await request(app).post('/v1/courses').send({ screeningId: screening.body.screeningId, startDate: courseStartYesterday() }).expect(201);
    const courseId = course.body.courseId as string;

    // Session 2 before session 1 is refused, and changes nothing.
    await request(app).post(`/v1/courses/${courseId}/dosing-sessions`).send(session(2, new Date(Date.now() - 90 * 60_000))).expect(409);

    // Session 1 ends now, so its follow-ups fall due in 3, 6 and 9 seconds.
    const s1 = await request(app).post(`/v1/courses/${courseId}/dosing-sessions`).send(session(1, new Date(Date.now() - 90 * 60_000))).expect(201);
    const known = new Set(
      [screening.body.resources, course.body.resources].flatMap((b: Bundle) => (b.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`)),
    );
    assertBundleInvariants(s1.body.resources, known);
    expect(s1.body.followUps).toHaveLength(3);
    expect(s1.body.followUps.map((f: { status: string }) => f.status)).toEqual(['scheduled', 'scheduled', 'scheduled']);

    // The first follow-up is done in time; the others are left to escalate when due.
    const [first] = s1.body.followUps as Array<{ id: string }>;
    await request(app).post(`/v1/follow-ups/${first?.id}/complete`).send({ completedAt: new Date().toISOString(), note: 'Integration went well' }).expect(200);
    await request(app).post(`/v1/follow-ups/${first?.id}/complete`).send({ completedAt: new Date().toISOString() }).expect(409);

    await until(async () => {
      const view = await request(app).get(`/v1/courses/${courseId}`).expect(200);
      const statuses = view.body.followUps.map((f: { status: string }) => f.status);
      return statuses.join() === 'completed,escalated,escalated';
    }, 30_000, 'two follow-ups to escalate', 250);

    const s2 = await request(app).post(`/v1/courses/${courseId}/dosing-sessions`).send(session(2, new Date(Date.now() - 90 * 60_000))).expect(201);
    expect(s2.body.followUps).toHaveLength(3);
    await request(app).post(`/v1/courses/${courseId}/dosing-sessions`).send(session(2, new Date(Date.now() - 90 * 60_000))).expect(409);

    const goc = await request(app)
      .post(`/v1/courses/${courseId}/goals-of-care`)
      .send({
        discussedAt: new Date().toISOString(),
        participants: ['Patient', 'Daughter', 'Palliative care physician'],
        values: ['Being at home with family', 'Staying lucid'],
        goals: [{ description: 'Remain at home until the end of life', priority: 'high-priority' }, { description: 'Reconcile with brother' }],
        preferences: { placeOfCare: 'Home', codeStatus: 'Do not attempt resuscitation' },
        decisions: ['Hospice referral'],
      })
      .expect(201);
    expect(goc.body.carePlanId).toBe(course.body.carePlanId);
    for (const r of [s1, s2]) for (const e of (r.body.resources as Bundle).entry ?? []) known.add(`${e.resource?.resourceType}/${e.resource?.id}`);
    assertBundleInvariants(s2.body.resources, known);
    assertBundleInvariants(goc.body.resources, known);

    const stopped = await request(app).post(`/v1/courses/${courseId}/stop`).send({ reason: 'completed' }).expect(200);
    // Open follow-ups, escalated or not, are cancelled: nobody will do them now.
    expect(stopped.body.cancelledFollowUps).toHaveLength(5);
    for (const e of (goc.body.resources as Bundle).entry ?? []) known.add(`${e.resource?.resourceType}/${e.resource?.id}`);
    assertBundleInvariants(stopped.body.resources, known);
    await request(app).post(`/v1/courses/${courseId}/dosing-sessions`).send(session(1, new Date(Date.now() - 90 * 60_000))).expect(409);
    await request(app).post(`/v1/courses/${courseId}/goals-of-care`).send({ discussedAt: new Date().toISOString(), participants: ['x'], values: [], goals: [{ description: 'y' }] }).expect(409);

    await stack.drained(60_000);
    const view = await request(app).get(`/v1/courses/${courseId}`).expect(200);
    expect(view.body).toMatchObject({ status: 'stopped', stoppedReason: 'completed' });
    expect(view.body.sessions).toHaveLength(2);
    expect(view.body.goals).toHaveLength(2);
    expect(view.body.followUps.map((f: { status: string }) => f.status)).toEqual(['completed', 'cancelled', 'cancelled', 'cancelled', 'cancelled', 'cancelled']);
    expect(view.body.sync.every((s: { status: string; ehrReference: string | null }) => s.status === 'synced' && s.ehrReference)).toBe(true);

    const audit = await auditEhr(stack.db, stack.sandbox.url);
    expect(audit.duplicates).toEqual([]);
    expect(audit.missing).toEqual([]);
    expect(audit.ehr).toEqual(audit.local);
    expect(audit.ehr.Patient).toBe(1);
    expect(audit.ehr.CarePlan).toBe(1);

    // The EHR kept the CarePlan's revisions, and its current one is the completed plan with the goals.
    const [carePlan] = (await ehrAll(stack.sandbox.url, 'CarePlan')) as CarePlan[];
    expect(carePlan?.status).toBe('completed');
    expect(carePlan?.goal).toHaveLength(2);
    const history = await (await fetch(`${stack.sandbox.url}/CarePlan/${carePlan?.id}/_history`)).json();
    expect((history as Bundle).entry?.length).toBeGreaterThan(1);

    // The palliative team received every CarePlan revision, signed, and the care-team notifications.
    const carePlanVersions = (await stack.db.query(`SELECT count(*)::int AS n FROM resource_history WHERE resource_type = 'CarePlan'`))[0] as { n: number };
    await until(async () => hooks.deliveries.filter((d) => d.event === 'careplan.updated').length >= carePlanVersions.n, 20_000, 'every CarePlan revision as a webhook', 250);
    expect(hooks.deliveries.every((d) => d.signatureValid)).toBe(true);
    expect(new Set(hooks.deliveries.map((d) => d.deliveryId)).size).toBe(hooks.deliveries.length);
    const events = new Set(hooks.deliveries.map((d) => d.event));
    expect(events).toEqual(new Set(['careplan.updated', 'care-team.notification']));
  });
});

