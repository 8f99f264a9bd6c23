import type { Bundle, CarePlan, Communication, Flag, Observation, Resource } from '@medplum/fhirtypes';
import { CourseDetailView, OutcomesResponse } from '@kap/contracts';
import request from 'supertest';
import { startTestIssuer } from '@kap/testkit/tokens';
import { startApiHarness, type ApiHarness } from '@kap/testkit/api-harness';
import { assertBundleInvariants } from '@kap/testkit/fhir-invariants';
import { screeningRequest } from '@kap/testkit/requests';

const WEBHOOK = 'https://palliative-team.example.org/hooks/kap';
let h: ApiHarness;
beforeAll(async () => {
  h = await startApiHarness({ env: { WEBHOOK_URLS: WEBHOOK, WEBHOOK_SECRET: 'test-webhook-secret-0123456789' } });
  // Load the FHIR definitions and both validators once, outside any test's time budget:
  // on a shared, loaded machine that alone can take most of a test's 30 seconds.
  const warm = await request(h.app).post('/v1/screenings').send(screeningRequest()).expect(201);
  assertBundleInvariants(warm.body.resources);
}, 180_000);
afterAll(async () => {
  await h.close();
});

const DAY = 86_400_000;
const daysAgo = (n: number): string => new Date(Date.now() - n * DAY).toISOString();
const refsOf = (b: Bundle): string[] => (b.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);
const resourcesOf = (b: Bundle): Resource[] => (b.entry ?? []).map((e) => e.resource as Resource);
const ofType = <T extends Resource>(b: Bundle, type: T['resourceType']): T[] =>
  resourcesOf(b).filter((r): r is T => r.resourceType === type);

const ITEM9 = (score: number): number[] => [2, 2, 1, 1, 1, 2, 1, 1, score];

async function notifyRows(resource: string): Promise<{ event: string; url: string }[]> {
  const rows = await h.db.query<{ payload: { event: string; url: string; resource: string } }>(
    "SELECT payload FROM outbox WHERE topic = 'notify' AND payload->>'resource' = $1",
    [resource],
  );
  return rows.map((r) => r.payload);
}

async function newCourse(overrides: Parameters<typeof screeningRequest>[0] = {}, startDate = daysAgo(10).slice(0, 10)) {
  const s = await request(h.app)
    .post('/v1/screenings')
    .send(screeningRequest({ performedAt: daysAgo(12), ...overrides }))
    .expect(201);
  const c = await request(h.app).post('/v1/courses').send({ screeningId: s.body.screeningId, startDate }).expect(201);
  const known = new Set([...refsOf(s.body.resources), ...refsOf(c.body.resources)]);
  return { courseId: c.body.courseId as string, carePlanId: c.body.carePlanId as string, screening: s.body, known };
}

describe('phq9-self-harm at screening', () => {
  it('item 9 above 0 makes the screening needs-review and raises a safety Flag, an urgent Communication and its webhook', async () => {
    const res = await request(h.app)
      .post('/v1/screenings')
      .send(screeningRequest({ measures: { phq9: ITEM9(2) } }))
      .expect(201);
    expect(res.body.outcome).toBe('needs-review');
    expect(res.body.reasons).toEqual([expect.objectContaining({ code: 'phq9-self-harm', severity: 'caution' })]);
    assertBundleInvariants(res.body.resources);
    const [flag] = ofType<Flag>(res.body.resources, 'Flag');
    const [communication] = ofType<Communication>(res.body.resources, 'Communication');
    expect(flag).toMatchObject({ status: 'active', category: [{ coding: [{ code: 'safety' }] }] });
    expect(communication).toMatchObject({ priority: 'urgent', about: [{ reference: `Flag/${flag?.id}` }, expect.anything()] });
    expect(await notifyRows(`Communication/${communication?.id}`)).toEqual([
      expect.objectContaining({ event: 'care-team.notification', url: WEBHOOK }),
    ]);
    const pending = await h.db.query<{ status: string }>("SELECT status FROM sync_state WHERE resource_type = 'Flag' AND id = $1", [
      flag?.id,
    ]);
    expect(pending).toEqual([{ status: 'pending' }]);
  });

  it('alerts even when the screening is contraindicated for another reason', async () => {
    const res = await request(h.app)
      .post('/v1/screenings')
      .send(screeningRequest({ contraindications: { activePsychosis: true }, measures: { phq9: ITEM9(1) } }))
      .expect(201);
    expect(res.body.outcome).toBe('contraindicated');
    expect(res.body.reasons.map((r: { code: string }) => r.code)).toEqual(['activePsychosis', 'phq9-self-harm']);
    expect(ofType<Flag>(res.body.resources, 'Flag')).toHaveLength(1);
    expect(ofType<Communication>(res.body.resources, 'Communication')).toHaveLength(1);
  });

  it('raises nothing when item 9 is 0', async () => {
    const res = await request(h.app)
      .post('/v1/screenings')
      .send(screeningRequest({ measures: { phq9: ITEM9(0) } }))
      .expect(201);
    expect(res.body.outcome).toBe('eligible');
    expect(ofType<Flag>(res.body.resources, 'Flag')).toHaveLength(0);
  });

  it('the same through the FHIR face: a QuestionnaireResponse with item 9 positive', async () => {
    const rest = await request(h.app)
      .post('/v1/screenings')
      .send(screeningRequest({ measures: { phq9: ITEM9(3) } }))
      .expect(201);
    const qr = ofType<Resource>(rest.body.resources, 'QuestionnaireResponse')[0];
    const again = {
      ...qr,
      id: undefined,
      subject: {
        ...(qr as { subject: object }).subject,
        identifier: { system: 'urn:oid:2.16.840.1.113883.19.5.99999.1', value: `SYN-QR-${Date.now()}` },
      },
    };
    const res = await request(h.app).post('/fhir/R4/QuestionnaireResponse').send(again).expect(201);
    expect(res.body.outcome).toBe('needs-review');
    expect(res.body.reasons.map((r: { code: string }) => r.code)).toContain('phq9-self-harm');
  });
});

describe('POST /v1/courses/{id}/measures', () => {
  it('stores responses and banded totals linked from the CarePlan, without an alert when item 9 is 0', async () => {
    const { courseId, carePlanId, known } = await newCourse();
    const res = await request(h.app)
      .post(`/v1/courses/${courseId}/measures`)
      .send({ measuredAt: daysAgo(3), timepoint: 'after-session-1', phq9: ITEM9(0), gad7: [1, 1, 1, 1, 0, 0, 1] })
      .expect(201);
    expect(res.body.alerts).toEqual([]);
    assertBundleInvariants(res.body.resources, known);
    const totals = ofType<Observation>(res.body.resources, 'Observation');
    expect(totals.map((o) => [o.code.coding?.[0]?.code, o.valueInteger, o.interpretation?.[0]?.coding?.[0]?.code])).toEqual([
      ['44261-6', 11, 'severity-moderate'],
      ['70274-6', 5, 'severity-mild'],
    ]);
    const carePlan = ofType<CarePlan>(res.body.resources, 'CarePlan')[0];
    expect(carePlan?.id).toBe(carePlanId);
    const session1 = carePlan?.activity?.find((a) => a.detail?.code?.coding?.[0]?.code === 'dosing-session-1');
    expect(session1?.outcomeReference).toEqual(totals.map((o) => ({ reference: `Observation/${o.id}` })));
    expect(await notifyRows(`CarePlan/${carePlanId}`)).not.toHaveLength(0);
  });

  it('item 9 above 0 in a later measure raises the alert: Flag, urgent Communication, webhook', async () => {
    const { courseId, known } = await newCourse();
    const res = await request(h.app)
      .post(`/v1/courses/${courseId}/measures`)
      .send({ measuredAt: daysAgo(2), timepoint: 'after-session-2', phq9: ITEM9(1) })
      .expect(201);
    assertBundleInvariants(res.body.resources, known);
    const [flag] = ofType<Flag>(res.body.resources, 'Flag');
    const [communication] = ofType<Communication>(res.body.resources, 'Communication');
    expect(res.body.alerts).toEqual([
      {
        code: 'phq9-self-harm',
        severity: 'caution',
        text: flag?.code.text,
        flag: `Flag/${flag?.id}`,
        communication: `Communication/${communication?.id}`,
      },
    ]);
    expect(communication?.priority).toBe('urgent');
    expect(await notifyRows(`Communication/${communication?.id}`)).toEqual([expect.objectContaining({ event: 'care-team.notification' })]);
    const view = await request(h.app).get(`/v1/courses/${courseId}`).expect(200);
    expect(view.body.alerts).toEqual([expect.objectContaining({ code: 'phq9-self-harm', flag: `Flag/${flag?.id}` })]);
  });

  it('answers 400 naming the field, and stores nothing, for a bad body', async () => {
    const { courseId } = await newCourse();
    const count = async () => (await h.db.query<{ n: number }>('SELECT count(*)::int AS n FROM course_measures'))[0]?.n;
    const before = await count();
    const cases: [unknown, string][] = [
      [{ measuredAt: daysAgo(1) }, 'phq9'],
      [{ measuredAt: daysAgo(1), phq9: [0, 0, 0] }, 'phq9'],
      [{ measuredAt: daysAgo(1), gad7: [0, 0, 0, 0, 0, 0, 4] }, 'gad7[6]'],
      [{ measuredAt: 'yesterday', gad7: [0, 0, 0, 0, 0, 0, 0] }, 'measuredAt'],
      [{ measuredAt: daysAgo(1), gad7: [0, 0, 0, 0, 0, 0, 0], timepoint: 'later' }, 'timepoint'],
      [{ measuredAt: daysAgo(1), gad7: [0, 0, 0, 0, 0, 0, 0], extra: true }, 'extra'],
    ];
    for (const [body, expression] of cases) {
      const res = await request(h.app)
        .post(`/v1/courses/${courseId}/measures`)
        .send(body as object)
        .expect(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue.flatMap((i: { expression?: string[] }) => i.expression ?? [])).toContain(expression);
    }
    expect(await count()).toBe(before);
  });

  it('404 for an unknown course; 409 before the course starts or dated before it', async () => {
    await request(h.app)
      .post('/v1/courses/no-such-course/measures')
      .send({ measuredAt: daysAgo(1), gad7: [0, 0, 0, 0, 0, 0, 0] })
      .expect(404);
    const future = await newCourse({}, new Date(Date.now() + 5 * DAY).toISOString().slice(0, 10));
    const res = await request(h.app)
      .post(`/v1/courses/${future.courseId}/measures`)
      .send({ measuredAt: daysAgo(0), gad7: [0, 0, 0, 0, 0, 0, 0] })
      .expect(409);
    expect(res.body.issue[0].diagnostics).toMatch(/starts on/);
    const started = await newCourse();
    await request(h.app)
      .post(`/v1/courses/${started.courseId}/measures`)
      .send({ measuredAt: daysAgo(20), gad7: [0, 0, 0, 0, 0, 0, 0] })
      .expect(409);
  });

  it('allows measures after a stop, but 409 once the course stopped more than 90 days ago', async () => {
    const { courseId } = await newCourse();
    await request(h.app).post(`/v1/courses/${courseId}/stop`).send({ reason: 'completed' }).expect(200);
    await request(h.app)
      .post(`/v1/courses/${courseId}/measures`)
      .send({ measuredAt: daysAgo(0), timepoint: 'follow-up', gad7: [0, 0, 0, 0, 0, 0, 0] })
      .expect(201);
    await h.db.query("UPDATE courses SET stopped_at = now() - interval '91 days' WHERE id = $1", [courseId]);
    const res = await request(h.app)
      .post(`/v1/courses/${courseId}/measures`)
      .send({ measuredAt: daysAgo(0), gad7: [0, 0, 0, 0, 0, 0, 0] })
      .expect(409);
    expect(res.body.issue[0].diagnostics).toMatch(/more than 90 days/);
  });

  it('replays the first response for the same Idempotency-Key and records once', async () => {
    const { courseId } = await newCourse();
    const body = { measuredAt: daysAgo(1), phq9: ITEM9(1) };
    const first = await request(h.app)
      .post(`/v1/courses/${courseId}/measures`)
      .set('Idempotency-Key', `m-${courseId}`)
      .send(body)
      .expect(201);
    const second = await request(h.app)
      .post(`/v1/courses/${courseId}/measures`)
      .set('Idempotency-Key', `m-${courseId}`)
      .send(body)
      .expect(201);
    // The same body (byte-for-byte replay is the idempotency layer's own concern and test).
    expect(second.body).toEqual(first.body);
    expect(second.headers['idempotent-replayed']).toBe('true');
    const rows = await h.db.query('SELECT id FROM course_measures WHERE course_id = $1', [courseId]);
    expect(rows).toHaveLength(1);
  });
});

describe('GET /v1/courses/{id}/outcomes', () => {
  it('gives the baseline first, then every measure in time order, and the change since baseline', async () => {
    const { courseId } = await newCourse({ measures: { phq9: [3, 3, 2, 2, 2, 2, 2, 1, 0], gad7: [2, 2, 2, 2, 2, 2, 2] } });
    const post = (body: object) => request(h.app).post(`/v1/courses/${courseId}/measures`).send(body).expect(201);
    // Recorded out of order: the outcomes are in the order they were taken.
    await post({ measuredAt: daysAgo(1), timepoint: 'end-of-course', phq9: [1, 1, 1, 1, 0, 1, 1, 0, 0] });
    await post({ measuredAt: daysAgo(5), timepoint: 'after-session-1', phq9: [2, 2, 1, 2, 1, 2, 1, 1, 0], gad7: [1, 1, 1, 1, 1, 1, 1] });
    const res = await request(h.app).get(`/v1/courses/${courseId}/outcomes`).expect(200);
    expect(res.body.phq9.map((p: { timepoint: string; total: number; severity: string }) => [p.timepoint, p.total, p.severity])).toEqual([
      ['baseline', 17, 'moderately-severe'],
      ['after-session-1', 12, 'moderate'],
      ['end-of-course', 6, 'mild'],
    ]);
    expect(res.body.gad7.map((p: { total: number }) => p.total)).toEqual([14, 7]);
    // The documented schemas describe what is served.
    expect(OutcomesResponse.safeParse(res.body).error).toBeUndefined();
    const view = await request(h.app).get(`/v1/courses/${courseId}`).expect(200);
    expect(CourseDetailView.safeParse(view.body).error).toBeUndefined();
    expect(view.body.measures.map((m: { timepoint: string }) => m.timepoint)).toEqual(['after-session-1', 'end-of-course']);
    expect(res.body.change).toEqual({ phq9: -11, gad7: -7 });
    const obs = await request(h.app).get(`/fhir/R4/${res.body.phq9[0].observation}`).expect(200);
    expect(obs.body.valueInteger).toBe(17);
  });

  it('has no change without a baseline or without a later measure', async () => {
    const { courseId } = await newCourse({ measures: undefined });
    await request(h.app)
      .post(`/v1/courses/${courseId}/measures`)
      .send({ measuredAt: daysAgo(1), gad7: [1, 1, 1, 1, 1, 1, 1] })
      .expect(201);
    const res = await request(h.app).get(`/v1/courses/${courseId}/outcomes`).expect(200);
    expect(res.body).toEqual({
      phq9: [],
      gad7: [expect.objectContaining({ total: 7, timepoint: null })],
      change: { phq9: null, gad7: null },
    });
    await request(h.app).get('/v1/courses/nope/outcomes').expect(404);
  });
});

describe('the course page', () => {
  it('is linked from the course, served as HTML with a strict CSP, with its bundled script (Chart.js inside) and source map', async () => {
    const { courseId } = await newCourse();
    const view = await request(h.app).get(`/v1/courses/${courseId}`).expect(200);
    expect(view.body.links).toEqual({
      page: `http://kap.test/courses/${courseId}`,
      outcomes: `http://kap.test/v1/courses/${courseId}/outcomes`,
    });
    const page = await request(h.app).get(`/courses/${courseId}`).expect(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    // One same-origin script, no inline one: the CSP allows nothing else.
    expect(page.text.match(/<script[^>]*>/g)).toEqual(['<script src="/assets/course-page.js" defer>']);
    const script = await request(h.app).get('/assets/course-page.js').expect(200);
    expect(script.headers['content-type']).toMatch(/text\/javascript/);
    expect(script.text).toMatch(/Chart\.js v4/);
    expect(script.text).toMatch(/\/\/# sourceMappingURL=course-page\.js\.map\s*$/);
    const map = await request(h.app).get('/assets/course-page.js.map').expect(200);
    expect(JSON.parse(map.text).sources).toEqual(expect.arrayContaining([expect.stringMatching(/page\/src\/render\.ts$/)]));
    await request(h.app).get('/assets/../package.json').expect(404);
  });

  it('with authentication on, the page opens without a token but its data does not', async () => {
    const issuer = await startTestIssuer();
    const secured = await startApiHarness({ env: issuer.env() });
    try {
      await request(secured.app).get('/courses/any').expect(200);
      await request(secured.app).get('/v1/courses/any').expect(401);
      await request(secured.app).get('/v1/courses/any/outcomes').expect(401);
      // The page's data calls are /v1 GETs: kap/v1.read is what its user's token needs.
      const reader = await issuer.mint({ scope: 'kap/v1.read' });
      await request(secured.app).get('/v1/courses/any').set('Authorization', `Bearer ${reader}`).expect(404);
    } finally {
      await secured.close();
      await issuer.close();
    }
  });
});

describe('documentation and the FHIR face', () => {
  it('serves the PHQ-9 and GAD-7 Questionnaires the measures answer, valid under both validators', async () => {
    for (const id of ['kap-phq9', 'kap-gad7']) {
      const res = await request(h.app).get(`/fhir/R4/Questionnaire/${id}`).expect(200);
      expect(res.body).toMatchObject({ resourceType: 'Questionnaire', id, status: 'active' });
      assertBundleInvariants({
        resourceType: 'Bundle',
        type: 'collection',
        entry: [{ fullUrl: `http://kap.test/fhir/R4/Questionnaire/${id}`, resource: res.body }],
      });
    }
  });

  it('documents the new routes in the OpenAPI document', async () => {
    const doc = await request(h.app).get('/openapi.json').expect(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/v1/courses/{id}/measures', '/v1/courses/{id}/outcomes', '/courses/{id}']),
    );
    expect(doc.body.components.schemas.MeasureRequest.properties.timepoint).toBeDefined();
  });
});
