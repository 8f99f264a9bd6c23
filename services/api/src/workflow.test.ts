import { producerConnection } from '@kap/queue';
import type { Bundle, Task } from '@medplum/fhirtypes';
import request from 'supertest';
import { startApiHarness, type ApiHarness } from '@kap/testkit/api-harness';
import { assertBundleInvariants } from '@kap/testkit/fhir-invariants';
import { screeningRequest } from '@kap/testkit/requests';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApiHarness({ env: { FOLLOW_UP_OFFSETS: 'PT24H,PT72H,P7D', FOLLOW_UP_REMINDER_LEAD: 'PT2H' } });
});
afterAll(async () => {
  await h.close();
});

const start = new Date('2026-03-03T09:00:00+01:00');
const sessionBody = (n: 1 | 2, overrides: Record<string, unknown> = {}) => ({
  sessionNumber: n,
  doseLevel: n === 1 ? 'low' : 'moderate',
  route: 'intramuscular',
  dose: { value: 0.5, unit: 'mg/kg' },
  start: start.toISOString(),
  end: new Date(start.getTime() + 100 * 60_000).toISOString(),
  vitals: [{ at: start.toISOString(), systolic: 126, diastolic: 80, heartRate: 70 }],
  ...overrides,
});

async function newCourse(): Promise<{ courseId: string; known: Set<string> }> {
  const s = await request(h.app).post('/v1/screenings').send(screeningRequest()).expect(201);
  const c = await request(h.app).post('/v1/courses').send({ screeningId: s.body.screeningId, startDate: '2026-03-01' }).expect(201);
  const known = new Set(
    [s.body.resources, c.body.resources].flatMap((b: Bundle) =>
      (b.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`),
    ),
  );
  return { courseId: c.body.courseId, known };
}

async function outboxTopics(): Promise<Record<string, number>> {
  const rows = await h.db.query<{ topic: string; n: number }>('SELECT topic, count(*)::int AS n FROM outbox GROUP BY topic');
  return Object.fromEntries(rows.map((r) => [r.topic, r.n]));
}

describe('dosing sessions', () => {
  it('records session 1 with follow-ups at the configured offsets, each a Task due in the window', async () => {
    const { courseId, known } = await newCourse();
    const before = await outboxTopics();
    const res = await request(h.app).post(`/v1/courses/${courseId}/dosing-sessions`).send(sessionBody(1)).expect(201);
    assertBundleInvariants(res.body.resources, known);
    const end = start.getTime() + 100 * 60_000;
    expect(res.body.followUps.map((f: { dueBy: string }) => Date.parse(f.dueBy) - end)).toEqual([24 * 3600e3, 72 * 3600e3, 7 * 86400e3]);
    const types = (res.body.resources as Bundle).entry?.map((e) => e.resource?.resourceType);
    expect(types).toEqual(
      expect.arrayContaining(['Encounter', 'Procedure', 'MedicationAdministration', 'Observation', 'CarePlan', 'Task', 'Provenance']),
    );
    const tasks = (res.body.resources as Bundle).entry?.filter((e) => e.resource?.resourceType === 'Task').map((e) => e.resource as Task);
    expect(tasks?.map((t) => t.restriction?.period?.end)).toEqual(res.body.followUps.map((f: { dueBy: string }) => f.dueBy));
    const after = await outboxTopics();
    expect((after['follow-up-schedule'] ?? 0) - (before['follow-up-schedule'] ?? 0)).toBe(3);
    const view = await request(h.app).get(`/v1/courses/${courseId}`).expect(200);
    expect(view.body).toMatchObject({
      phase: 'integration-1',
      sessions: [expect.objectContaining({ sessionNumber: 1, doseLevel: 'low' })],
    });
  });

  it('enforces the order: no session 2 first, no session twice, nothing after a stop', async () => {
    const { courseId } = await newCourse();
    const early = await request(h.app).post(`/v1/courses/${courseId}/dosing-sessions`).send(sessionBody(2)).expect(409);
    expect(early.body.issue[0]).toMatchObject({ code: 'business-rule', diagnostics: expect.stringMatching(/session 1 first/) });
    await request(h.app).post(`/v1/courses/${courseId}/dosing-sessions`).send(sessionBody(1)).expect(201);
    await request(h.app).post(`/v1/courses/${courseId}/dosing-sessions`).send(sessionBody(1)).expect(409);
    await request(h.app).post(`/v1/courses/${courseId}/stop`).send({ reason: 'withdrawn' }).expect(200);
    const after = await request(h.app).post(`/v1/courses/${courseId}/dosing-sessions`).send(sessionBody(2)).expect(409);
    expect(after.body.issue[0].diagnostics).toMatch(/stopped \(withdrawn\)/);
    await request(h.app).post(`/v1/courses/${courseId}/stop`).send({ reason: 'completed' }).expect(409);
  });

  it('raises a blood-pressure alert above the in-session threshold', async () => {
    const { courseId } = await newCourse();
    const res = await request(h.app)
      .post(`/v1/courses/${courseId}/dosing-sessions`)
      .send(sessionBody(1, { vitals: [{ at: start.toISOString(), systolic: 186, diastolic: 104, heartRate: 96 }] }))
      .expect(201);
    const types = (res.body.resources as Bundle).entry?.map((e) => e.resource?.resourceType);
    expect(types).toEqual(expect.arrayContaining(['Flag', 'DetectedIssue', 'Communication']));
  });

  it.each([
    ['a wrong type', { dose: { value: 'lots', unit: 'mg' } }, 'dose.value'],
    ['an unknown route', { route: 'oral' }, 'route'],
    [
      'an unknown key',
      { vitals: [{ at: start.toISOString(), systolic: 120, diastolic: 80, heartRate: 70, temperature: 37 }] },
      'vitals[0].temperature',
    ],
    ['end before start', { end: new Date(start.getTime() - 1000).toISOString() }, 'end'],
    ['a rating above 10', { experience: { dissociation: 11 } }, 'experience.dissociation'],
    ['no vitals', { vitals: [] }, 'vitals'],
  ])('refuses %s with 400 naming the field', async (_name, change, expression) => {
    const { courseId } = await newCourse();
    const res = await request(h.app).post(`/v1/courses/${courseId}/dosing-sessions`).send(sessionBody(1, change)).expect(400);
    expect(res.body.issue.some((i: { expression?: string[] }) => i.expression?.[0] === expression)).toBe(true);
    const view = await request(h.app).get(`/v1/courses/${courseId}`).expect(200);
    expect(view.body.sessions).toEqual([]);
  });

  it('answers 404 for an unknown course', async () => {
    await request(h.app).post('/v1/courses/nope/dosing-sessions').send(sessionBody(1)).expect(404);
  });
});

describe('follow-ups, goals of care and stop', () => {
  it('completes a follow-up once and closes its Task', async () => {
    const { courseId } = await newCourse();
    const s = await request(h.app).post(`/v1/courses/${courseId}/dosing-sessions`).send(sessionBody(1)).expect(201);
    const id = s.body.followUps[0].id as string;
    const done = await request(h.app)
      .post(`/v1/follow-ups/${id}/complete`)
      .send({ completedAt: '2026-03-04T10:00:00+01:00', note: 'Processed the imagery' })
      .expect(200);
    expect(done.body.followUp).toMatchObject({ id, status: 'completed' });
    const task = (done.body.resources as Bundle).entry?.find((e) => e.resource?.resourceType === 'Task')?.resource as Task;
    expect(task.status).toBe('completed');
    await request(h.app).post(`/v1/follow-ups/${id}/complete`).send({ completedAt: '2026-03-04T10:00:00+01:00' }).expect(409);
    await request(h.app).post('/v1/follow-ups/unknown/complete').send({ completedAt: '2026-03-04T10:00:00+01:00' }).expect(404);
    const bad = await request(h.app).post(`/v1/follow-ups/${id}/complete`).send({ completedAt: 'yesterday' }).expect(400);
    expect(bad.body.issue[0].expression).toEqual(['completedAt']);
    const early = await request(h.app)
      .post(`/v1/follow-ups/${s.body.followUps[1].id}/complete`)
      .send({ completedAt: start.toISOString() })
      .expect(400);
    expect(early.body.issue[0]).toMatchObject({
      expression: ['completedAt'],
      diagnostics: expect.stringMatching(/before dosing session 1 ended/),
    });
  });

  it('records goals of care as Goals referenced by the CarePlan', async () => {
    const { courseId } = await newCourse();
    const res = await request(h.app)
      .post(`/v1/courses/${courseId}/goals-of-care`)
      .send({
        discussedAt: '2026-03-05T15:00:00+01:00',
        participants: ['Patient'],
        values: ['Dignity'],
        goals: [{ description: 'Die at home' }],
      })
      .expect(201);
    const carePlan = (res.body.resources as Bundle).entry?.find((e) => e.resource?.resourceType === 'CarePlan')?.resource as {
      goal?: unknown[];
    };
    expect(carePlan.goal).toHaveLength(1);
    const view = await request(h.app).get(`/v1/courses/${courseId}`).expect(200);
    expect(view.body.goals).toEqual([expect.objectContaining({ description: 'Die at home' })]);
    const missing = await request(h.app)
      .post(`/v1/courses/${courseId}/goals-of-care`)
      .send({ discussedAt: '2026-03-05T15:00:00+01:00', participants: ['Patient'], values: [] })
      .expect(400);
    expect(missing.body.issue[0].expression).toEqual(['goals']);
  });

  it('stops a course, cancelling every open follow-up and its Task', async () => {
    const { courseId } = await newCourse();
    await request(h.app).post(`/v1/courses/${courseId}/dosing-sessions`).send(sessionBody(1)).expect(201);
    const res = await request(h.app).post(`/v1/courses/${courseId}/stop`).send({ reason: 'deceased' }).expect(200);
    expect(res.body.cancelledFollowUps).toHaveLength(3);
    const tasks = (res.body.resources as Bundle).entry
      ?.filter((e) => e.resource?.resourceType === 'Task')
      .map((e) => (e.resource as Task).status);
    expect(tasks).toEqual(['cancelled', 'cancelled', 'cancelled']);
    const carePlan = (res.body.resources as Bundle).entry?.find((e) => e.resource?.resourceType === 'CarePlan')?.resource as {
      status: string;
    };
    expect(carePlan.status).toBe('revoked');
    await request(h.app).post(`/v1/courses/${courseId}/stop`).send({ reason: 'sleeping' }).expect(400);
  });
});

describe('dead letters', () => {
  it('lists dead letters and re-drives one exactly once', async () => {
    const [row] = await h.db.query<{ id: string }>(
      `INSERT INTO outbox (topic, patient_id, payload, dispatched_at, dead_at, last_error, tenant_id)
       VALUES ('ehr-sync', 'p-dead', '{"patientId":"p-dead"}', now(), now(), 'EHR answered 422', 'default') RETURNING id`,
    );
    const list = await request(h.app).get('/v1/admin/dead-letters').expect(200);
    expect(list.body.deadLetters).toEqual([expect.objectContaining({ id: Number(row?.id), lastError: 'EHR answered 422' })]);
    await request(h.app).post(`/v1/admin/dead-letters/${row?.id}/redrive`).expect(200);
    await request(h.app).post(`/v1/admin/dead-letters/${row?.id}/redrive`).expect(404);
    expect((await request(h.app).get('/v1/admin/dead-letters').expect(200)).body.deadLetters).toEqual([]);
  });
});

describe('when Redis is down', () => {
  it('answers 503 at once and accepts nothing', async () => {
    const down = producerConnection('redis://127.0.0.1:1', { lazyConnect: true, retryStrategy: () => null });
    const h2 = await startApiHarness({ queueCheck: async () => void (await down.ping()) });
    try {
      // "At once": the producer connection refuses commands while Redis is away instead of queueing them.
      await expect(down.ping()).rejects.toThrow(/enableOfflineQueue|Connection is closed/);
      const res = await request(h2.app).post('/v1/screenings').send(screeningRequest()).expect(503);
      expect(res.headers['retry-after']).toBeDefined();
      expect(res.body.issue[0]).toMatchObject({ code: 'transient', diagnostics: expect.stringMatching(/Redis/) });
      const [count] = await h2.db.query<{ n: number }>('SELECT count(*)::int AS n FROM screenings');
      expect(count?.n).toBe(0);
    } finally {
      down.disconnect();
      await h2.close();
    }
  });
});
