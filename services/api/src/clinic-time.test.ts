import request from 'supertest';
import { startApiHarness, type ApiHarness } from '@kap/testkit/api-harness';
import { screeningRequest, sessionOneRequest } from '@kap/testkit/requests';

/**
 * A clinic walking a course across its own midnight, in a zone behind UTC (Los Angeles)
 * and one ahead of every other (Kiritimati, UTC+14). The API's clock is a test clock a few
 * minutes either side of the clinic's midnight; the calendar days come from the clinic's
 * zone, never from UTC.
 */
const GOALS = { participants: ['Patient'], values: ['Dignity'], goals: [{ description: 'Stay at home' }] };

interface Clinic {
  readonly h: ApiHarness;
  setNow(at: string): void;
}

async function clinicIn(zone: string): Promise<Clinic> {
  let now = new Date('2026-01-01T00:00:00Z');
  const h = await startApiHarness({ env: { CLINIC_TIME_ZONE: zone }, now: () => now });
  return { h, setNow: (at) => (now = new Date(at)) };
}

async function courseStartedAt(c: Clinic, at: string): Promise<{ courseId: string; startDate: string }> {
  const s = await request(c.h.app)
    .post('/v1/screenings')
    .send(screeningRequest({ performedAt: '2026-01-10T18:00:00Z' }))
    .expect(201);
  c.setNow(at);
  const res = await request(c.h.app).post('/v1/courses').send({ screeningId: s.body.screeningId }).expect(201);
  const view = await request(c.h.app).get(`/v1/courses/${res.body.courseId}`).expect(200);
  return { courseId: res.body.courseId, startDate: view.body.startDate };
}

let la: Clinic;
let kiritimati: Clinic;
beforeAll(async () => {
  [la, kiritimati] = await Promise.all([clinicIn('America/Los_Angeles'), clinicIn('Pacific/Kiritimati')]);
}, 180_000);
afterAll(async () => {
  await Promise.all([la?.h.close(), kiritimati?.h.close()]);
});

describe('Los Angeles (UTC−8): late evening is still the same day', () => {
  it('a course created at 23:50 starts that day, and a measure at 23:55 and a session at 23:58 belong to it', async () => {
    // 07:50 UTC on the 15th is 23:50 on the 14th in Los Angeles.
    const { courseId, startDate } = await courseStartedAt(la, '2026-01-15T07:50:00Z');
    expect(startDate).toBe('2026-01-14');
    la.setNow('2026-01-15T09:30:00Z');
    await request(la.h.app)
      .post(`/v1/courses/${courseId}/measures`)
      .send({ measuredAt: '2026-01-14T23:55:00-08:00', phq9: [1, 1, 1, 1, 0, 1, 1, 0, 0] })
      .expect(201);
    await request(la.h.app)
      .post(`/v1/courses/${courseId}/dosing-sessions`)
      .send(sessionOneRequest(new Date('2026-01-15T07:58:00Z')))
      .expect(201);
  });

  it('refuses a session, a measure and a goals-of-care discussion from the evening before the first day, naming the clinic day', async () => {
    const { courseId, startDate } = await courseStartedAt(la, '2026-01-15T08:10:00Z');
    expect(startDate).toBe('2026-01-15');
    la.setNow('2026-01-15T10:00:00Z');
    // 07:55 UTC on the 15th is 23:55 on the 14th in Los Angeles: the UTC date would let it through.
    const before = '2026-01-15T07:55:00Z';
    const session = await request(la.h.app)
      .post(`/v1/courses/${courseId}/dosing-sessions`)
      .send(sessionOneRequest(new Date(before)))
      .expect(409);
    expect(session.body.issue[0].diagnostics).toBe(
      "start is before the course started: 2026-01-15T07:55:00.000Z is 2026-01-14 in the clinic's time zone (America/Los_Angeles), the course starts on 2026-01-15",
    );
    expect(session.body.issue[0].expression).toEqual(['start']);
    const measure = await request(la.h.app)
      .post(`/v1/courses/${courseId}/measures`)
      .send({ measuredAt: before, phq9: [0, 0, 0, 0, 0, 0, 0, 0, 0] })
      .expect(409);
    expect(measure.body.issue[0].diagnostics).toMatch(/is 2026-01-14 in the clinic's time zone \(America\/Los_Angeles\)/);
    const goals = await request(la.h.app)
      .post(`/v1/courses/${courseId}/goals-of-care`)
      .send({ ...GOALS, discussedAt: before })
      .expect(409);
    expect(goals.body.issue[0].expression).toEqual(['discussedAt']);
    // Five minutes later it is the first day in the clinic.
    await request(la.h.app)
      .post(`/v1/courses/${courseId}/measures`)
      .send({ measuredAt: '2026-01-15T08:05:00Z', phq9: [0, 0, 0, 0, 0, 0, 0, 0, 0] })
      .expect(201);
  });
});

describe('Kiritimati (UTC+14): just after midnight is already the next day', () => {
  it('a course created at 00:30 starts that day; 23:55 the evening before is refused, 00:05 accepted', async () => {
    // 10:30 UTC on the 14th is 00:30 on the 15th in Kiritimati.
    const { courseId, startDate } = await courseStartedAt(kiritimati, '2026-01-14T10:30:00Z');
    expect(startDate).toBe('2026-01-15');
    kiritimati.setNow('2026-01-14T13:00:00Z');
    const late = await request(kiritimati.h.app)
      .post(`/v1/courses/${courseId}/measures`)
      .send({ measuredAt: '2026-01-14T23:55:00+14:00', phq9: [0, 0, 0, 0, 0, 0, 0, 0, 0] })
      .expect(409);
    expect(late.body.issue[0].diagnostics).toMatch(
      /is 2026-01-14 in the clinic's time zone \(Pacific\/Kiritimati\), the course starts on 2026-01-15/,
    );
    await request(kiritimati.h.app)
      .post(`/v1/courses/${courseId}/dosing-sessions`)
      .send(sessionOneRequest(new Date('2026-01-14T09:58:00Z')))
      .expect(409);
    await request(kiritimati.h.app)
      .post(`/v1/courses/${courseId}/measures`)
      .send({ measuredAt: '2026-01-15T00:05:00+14:00', phq9: [0, 0, 0, 0, 0, 0, 0, 0, 0] })
      .expect(201);
    await request(kiritimati.h.app)
      .post(`/v1/courses/${courseId}/dosing-sessions`)
      .send(sessionOneRequest(new Date('2026-01-14T10:06:00Z')))
      .expect(201);
    const goals = await request(kiritimati.h.app)
      .post(`/v1/courses/${courseId}/goals-of-care`)
      .send({ ...GOALS, discussedAt: '2026-01-14T12:00:00Z' })
      .expect(201);
    const goal = goals.body.resources.entry
      .map((e: { resource: { resourceType: string } }) => e.resource)
      .find((r: { resourceType: string }) => r.resourceType === 'Goal');
    // 12:00 UTC on the 14th is the 15th in the clinic: the Goal starts on the clinic's day.
    expect(goal.startDate).toBe('2026-01-15');
  });

  it('a startDate before the screening day in the clinic is refused; the screening day itself is allowed', async () => {
    // 18:00 UTC on the 10th is 08:00 on the 11th in Kiritimati.
    const s = await request(kiritimati.h.app)
      .post('/v1/screenings')
      .send(screeningRequest({ performedAt: '2026-01-10T18:00:00Z' }))
      .expect(201);
    kiritimati.setNow('2026-01-12T00:00:00Z');
    const early = await request(kiritimati.h.app)
      .post('/v1/courses')
      .send({ screeningId: s.body.screeningId, startDate: '2026-01-10' })
      .expect(400);
    expect(early.body.issue[0].diagnostics).toMatch(/startDate is before the screening \(2026-01-11/);
    await request(kiritimati.h.app).post('/v1/courses').send({ screeningId: s.body.screeningId, startDate: '2026-01-11' }).expect(201);
  });
});
