import { until } from '@kap/testkit/poll';
import type { Bundle, CarePlan } from '@medplum/fhirtypes';
import { auditEhr, ehrAll } from '@kap/testkit/ehr-audit';
import { refusal, serveClient, type ServedClient } from '@kap/testkit/client';
import { assertBundleInvariants } from '@kap/testkit/fhir-invariants';
import { screeningRequest, courseStartYesterday } from '@kap/testkit/requests';
import { startStack, startWebhookReceiver, type Stack } from '@kap/testkit/stack';

jest.setTimeout(120_000);

const session = (n: 1 | 2, start: Date) => ({
  sessionNumber: n,
  doseLevel: n === 1 ? ('low' as const) : ('moderate' as const),
  route: 'intramuscular' as const,
  dose: { value: n === 1 ? 0.5 : 0.75, unit: 'mg/kg' as const },
  start: start.toISOString(),
  end: new Date(start.getTime() + 90 * 60_000).toISOString(),
  vitals: [
    { at: start.toISOString(), systolic: 128, diastolic: 80, heartRate: 72, spo2: 98 },
    { at: new Date(start.getTime() + 40 * 60_000).toISOString(), systolic: 142, diastolic: 88, heartRate: 84 },
  ],
  experience: { dissociation: n === 1 ? 4 : 7, egoDissolution: n === 1 ? 2 : 6, distress: 1 },
});

// The OpenAPI document types a response's FHIR resources as any object of a resourceType; the invariants read them as FHIR.
const bundle = (b: unknown): Bundle => b as Bundle;

describe('a full KAP course reaches the EHR exactly once', () => {
  let stack: Stack;
  let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let client: ServedClient;

  beforeAll(async () => {
    hooks = await startWebhookReceiver();
    stack = await startStack({ WEBHOOK_URLS: hooks.url });
    client = await serveClient(stack.app);
    stack.startWorker();
  });
  afterAll(async () => {
    await client?.close();
    await stack?.close();
    await hooks?.close();
  });

  it('runs screening, course, two sessions with follow-ups, goals of care and completion', async () => {
    const { kap } = client;
    const screening = await kap.createScreening({ body: screeningRequest() });
    expect(screening.outcome).toBe('eligible');
    const course = await kap.createCourse({ body: { screeningId: screening.screeningId, startDate: courseStartYesterday() } });
    const courseId = course.courseId;
    const dose = (n: 1 | 2) => kap.createDosingSession({ path: { id: courseId }, body: session(n, new Date(Date.now() - 90 * 60_000)) });
    const refusedWith = async (call: Promise<unknown>, status: number) => {
      const err = await refusal(call);
      expect(err.status).toBe(status);
      expect(err.outcome?.resourceType).toBe('OperationOutcome');
    };

    // Session 2 before session 1 is refused, and changes nothing.
    await refusedWith(dose(2), 409);

    // Session 1 ends now, so its follow-ups fall due in 3, 6 and 9 seconds.
    const s1 = await dose(1);
    const known = new Set(
      [screening.resources, course.resources].flatMap((b) =>
        (bundle(b).entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`),
      ),
    );
    assertBundleInvariants(bundle(s1.resources), known);
    expect(s1.followUps).toHaveLength(3);
    expect(s1.followUps.map((f) => f.status)).toEqual(['scheduled', 'scheduled', 'scheduled']);

    // The first follow-up is done in time; the others are left to escalate when due.
    const [first] = s1.followUps;
    await kap.completeFollowUp({
      path: { id: first?.id as string },
      body: { completedAt: new Date().toISOString(), note: 'Integration went well' },
    });
    await refusedWith(kap.completeFollowUp({ path: { id: first?.id as string }, body: { completedAt: new Date().toISOString() } }), 409);

    await until(
      async () => {
        const view = await kap.getCourse({ path: { id: courseId } });
        const statuses = view.followUps.map((f) => f.status);
        return statuses.join() === 'completed,escalated,escalated';
      },
      30_000,
      'two follow-ups to escalate',
      250,
    );

    const s2 = await dose(2);
    expect(s2.followUps).toHaveLength(3);
    await refusedWith(dose(2), 409);

    const goc = await kap.recordGoalsOfCare({
      path: { id: courseId },
      body: {
        discussedAt: new Date().toISOString(),
        participants: ['Patient', 'Daughter', 'Palliative care physician'],
        values: ['Being at home with family', 'Staying lucid'],
        goals: [
          { description: 'Remain at home until the end of life', priority: 'high-priority' },
          { description: 'Reconcile with brother' },
        ],
        preferences: { placeOfCare: 'Home', codeStatus: 'Do not attempt resuscitation' },
        decisions: ['Hospice referral'],
      },
    });
    expect(goc.carePlanId).toBe(course.carePlanId);
    for (const r of [s1, s2]) for (const e of bundle(r.resources).entry ?? []) known.add(`${e.resource?.resourceType}/${e.resource?.id}`);
    assertBundleInvariants(bundle(s2.resources), known);
    assertBundleInvariants(bundle(goc.resources), known);

    const stopped = await kap.stopCourse({ path: { id: courseId }, body: { reason: 'completed' } });
    // Open follow-ups, escalated or not, are cancelled: nobody will do them now.
    expect(stopped.cancelledFollowUps).toHaveLength(5);
    for (const e of bundle(goc.resources).entry ?? []) known.add(`${e.resource?.resourceType}/${e.resource?.id}`);
    assertBundleInvariants(bundle(stopped.resources), known);
    await refusedWith(dose(1), 409);
    await refusedWith(
      kap.recordGoalsOfCare({
        path: { id: courseId },
        body: { discussedAt: new Date().toISOString(), participants: ['x'], values: [], goals: [{ description: 'y' }] },
      }),
      409,
    );

    await stack.drained(60_000);
    const view = await kap.getCourse({ path: { id: courseId } });
    expect(view).toMatchObject({ status: 'stopped', stoppedReason: 'completed' });
    expect(view.sessions).toHaveLength(2);
    expect(view.goals).toHaveLength(2);
    expect(view.followUps.map((f) => f.status)).toEqual(['completed', 'cancelled', 'cancelled', 'cancelled', 'cancelled', 'cancelled']);
    expect(view.sync.every((s) => s.status === 'synced' && s.ehrReference)).toBe(true);

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
    const carePlanVersions = (
      await stack.db.query(`SELECT count(*)::int AS n FROM resource_history WHERE resource_type = 'CarePlan'`)
    )[0] as { n: number };
    await until(
      async () => hooks.deliveries.filter((d) => d.event === 'careplan.updated').length >= carePlanVersions.n,
      20_000,
      'every CarePlan revision as a webhook',
      250,
    );
    expect(hooks.deliveries.every((d) => d.signatureValid)).toBe(true);
    expect(new Set(hooks.deliveries.map((d) => d.deliveryId)).size).toBe(hooks.deliveries.length);
    const events = new Set(hooks.deliveries.map((d) => d.event));
    expect(events).toEqual(new Set(['careplan.updated', 'care-team.notification']));
  });
});
