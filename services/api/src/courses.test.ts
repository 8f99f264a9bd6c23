import type { Bundle, CarePlan } from '@medplum/fhirtypes';
import request from 'supertest';
import { startApiHarness, type ApiHarness } from '@kap/testkit/api-harness';
import { assertBundleInvariants } from '@kap/testkit/fhir-invariants';
import { screeningRequest } from '@kap/testkit/requests';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApiHarness();
});
afterAll(async () => {
  await h.close();
});

async function screen(overrides = {}) {
  const res = await request(h.app).post('/v1/screenings').send(screeningRequest(overrides)).expect(201);
  return res.body as { screeningId: string; outcome: string; resources: Bundle };
}

const known = (bundle: Bundle): Set<string> => new Set(bundle.entry?.map((e) => `${e.resource?.resourceType}/${e.resource?.id}`));

describe('courses', () => {
  it('starts a course from an eligible screening with a CarePlan from the PlanDefinition', async () => {
    const s = await screen();
    const res = await request(h.app).post('/v1/courses').send({ screeningId: s.screeningId, startDate: '2026-03-02' }).expect(201);
    expect(res.body).toMatchObject({ courseId: expect.any(String), carePlanId: expect.any(String) });
    assertBundleInvariants(res.body.resources, known(s.resources));
    const carePlan = res.body.resources.entry[0].resource as CarePlan;
    expect(carePlan).toMatchObject({ resourceType: 'CarePlan', id: res.body.carePlanId, status: 'active', intent: 'plan' });
    expect(carePlan.instantiatesCanonical?.[0]).toMatch(/PlanDefinition\/kap-palliative-course/);
    expect(carePlan.activity).toHaveLength(6);

    const view = await request(h.app).get(`/v1/courses/${res.body.courseId}`).expect(200);
    expect(view.body).toMatchObject({
      courseId: res.body.courseId,
      screeningId: s.screeningId,
      carePlanId: res.body.carePlanId,
      startDate: '2026-03-02',
      status: 'active',
      phase: 'preparation',
      sessions: [],
      followUps: [],
      goals: [],
    });
    expect(view.body.sync).toEqual(
      expect.arrayContaining([expect.objectContaining({ reference: `CarePlan/${res.body.carePlanId}`, status: 'pending' })]),
    );
  });

  it('refuses a contraindicated screening with 409', async () => {
    const s = await screen({ contraindications: { activePsychosis: true } });
    const res = await request(h.app).post('/v1/courses').send({ screeningId: s.screeningId }).expect(409);
    expect(res.body.issue[0].diagnostics).toMatch(/absolute contraindication/);
  });

  it('waits for an approving review of a needs-review screening', async () => {
    const s = await screen({ contraindications: { recurrentCystitis: true } });
    expect(s.outcome).toBe('needs-review');
    await request(h.app).post('/v1/courses').send({ screeningId: s.screeningId }).expect(409);

    const review = await request(h.app)
      .post(`/v1/screenings/${s.screeningId}/review`)
      .send({ decision: 'approved', reviewer: 'Dr Synthetic Reviewer', note: 'Urology reviewed; acceptable.' })
      .expect(200);
    expect(review.body).toMatchObject({ screeningId: s.screeningId, decision: 'approved' });
    assertBundleInvariants(review.body.resources, known(s.resources));

    await request(h.app).post(`/v1/screenings/${s.screeningId}/review`).send({ decision: 'declined', reviewer: 'Dr B' }).expect(409);
    await request(h.app).post('/v1/courses').send({ screeningId: s.screeningId }).expect(201);
  });

  it('refuses a declined screening, a second course and an unknown screening', async () => {
    const declined = await screen({ contraindications: { obesityAnestheticRisk: true } });
    await request(h.app).post(`/v1/screenings/${declined.screeningId}/review`).send({ decision: 'declined', reviewer: 'Dr C' }).expect(200);
    await request(h.app).post('/v1/courses').send({ screeningId: declined.screeningId }).expect(409);

    const s = await screen();
    await request(h.app).post('/v1/courses').send({ screeningId: s.screeningId }).expect(201);
    await request(h.app).post('/v1/courses').send({ screeningId: s.screeningId }).expect(409);

    const unknown = await request(h.app).post('/v1/courses').send({ screeningId: 'no-such-screening' }).expect(404);
    expect(unknown.body.resourceType).toBe('OperationOutcome');
  });

  it('refuses to review an eligible or unknown screening', async () => {
    const s = await screen();
    await request(h.app).post(`/v1/screenings/${s.screeningId}/review`).send({ decision: 'approved', reviewer: 'Dr D' }).expect(409);
    await request(h.app).post('/v1/screenings/nope/review').send({ decision: 'approved', reviewer: 'Dr D' }).expect(404);
    const bad = await request(h.app)
      .post(`/v1/screenings/${s.screeningId}/review`)
      .send({ decision: 'maybe', reviewer: 'Dr D' })
      .expect(400);
    expect(bad.body.issue[0].expression).toEqual(['decision']);
  });

  it('keeps a course-specific follow-up schedule and refuses a bad one', async () => {
    const s = await screen();
    const bad = await request(h.app)
      .post('/v1/courses')
      .send({ screeningId: s.screeningId, followUpOffsets: ['PT0S'] })
      .expect(400);
    expect(bad.body.issue[0].expression).toEqual(['followUpOffsets[0]']);
    await request(h.app)
      .post('/v1/courses')
      .send({ screeningId: s.screeningId, followUpOffsets: ['P45D'] })
      .expect(400);
    const res = await request(h.app)
      .post('/v1/courses')
      .send({ screeningId: s.screeningId, startDate: '2026-03-02', followUpOffsets: ['PT12H', 'PT36H'] })
      .expect(201);
    const session = await request(h.app)
      .post(`/v1/courses/${res.body.courseId}/dosing-sessions`)
      .send({
        sessionNumber: 1,
        doseLevel: 'low',
        route: 'sublingual',
        dose: { value: 100, unit: 'mg' },
        start: '2026-03-03T09:00:00Z',
        end: '2026-03-03T10:30:00Z',
        vitals: [{ at: '2026-03-03T09:00:00Z', systolic: 120, diastolic: 80, heartRate: 70 }],
      })
      .expect(201);
    expect(session.body.followUps.map((f: { dueBy: string }) => f.dueBy)).toEqual(['2026-03-03T22:30:00.000Z', '2026-03-04T22:30:00.000Z']);
    const view = await request(h.app).get(`/v1/courses/${res.body.courseId}`).expect(200);
    expect(view.body.followUpOffsets).toEqual(['PT12H', 'PT36H']);
  });

  it('answers 404 for an unknown course and 400 for a bad start date', async () => {
    await request(h.app).get('/v1/courses/does-not-exist').expect(404);
    // A NUL in an id: PostgreSQL refuses it in text, so it must never reach a query.
    const nul = await request(h.app).post('/v1/screenings/%00/review').send({ decision: 'approved', reviewer: 'Dr N' }).expect(404);
    expect(nul.body.resourceType).toBe('OperationOutcome');
    await request(h.app).get('/v1/courses/%00').expect(404);
    const s = await screen();
    const res = await request(h.app).post('/v1/courses').send({ screeningId: s.screeningId, startDate: '02/03/2026' }).expect(400);
    expect(res.body.issue[0].expression).toEqual(['startDate']);
  });
});
