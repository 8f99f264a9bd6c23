import type { ScreeningRequest } from '@kap/contracts';
import type { Bundle } from '@medplum/fhirtypes';
import type { Express } from 'express';
import request from 'supertest';
import { screeningRequest } from './requests';

/**
 * A demo-like course through the real API: baseline PHQ-9 17 / GAD-7 14 at screening, two
 * sessions (session 1 with one blood pressure above the default in-session 180/110 threshold), measures
 * after each session (item 9 positive after session 2) and at the end, a goals-of-care
 * discussion, a completed follow-up, and the course completed. Times are relative to now,
 * in the past, so the course has started and its last measure is allowed.
 */
export interface CourseScenario {
  readonly courseId: string;
  readonly screeningId: string;
  /** Every resource reference the scenario's responses returned. */
  readonly known: Set<string>;
  /** The expected totals in page and outcomes order (baseline first). */
  readonly phq9: number[];
  readonly gad7: number[];
  readonly measureResponses: { alerts: unknown[]; resources: Bundle }[];
}

const DAY = 86_400_000;
const iso = (ms: number): string => new Date(ms).toISOString();

export async function runCourseScenario(
  app: Express,
  options: {
    token?: string;
    /** The course's follow-up offsets; far ones keep a running worker from escalating during the scenario. */
    followUpOffsets?: string[];
    /** The patient, when a test needs to know who it is (an HL7 message about them, say). */
    patient?: ScreeningRequest['patient'];
  } = {},
): Promise<CourseScenario> {
  const auth = (r: request.Test): request.Test => (options.token ? r.set('Authorization', `Bearer ${options.token}`) : r);
  const post = (path: string, body: unknown): request.Test => auth(request(app).post(path)).send(body as object);
  const known = new Set<string>();
  const remember = (b: Bundle): void => (b.entry ?? []).forEach((e) => known.add(`${e.resource?.resourceType}/${e.resource?.id}`));

  const t0 = Date.now() - 30 * DAY;
  const screening = await post(
    '/v1/screenings',
    screeningRequest({
      ...(options.patient ? { patient: options.patient } : {}),
      performedAt: iso(t0),
      measures: { phq9: [2, 3, 2, 2, 2, 2, 2, 2, 0], gad7: [2, 2, 2, 2, 2, 2, 2] },
    }),
  ).expect(201);
  remember(screening.body.resources);
  const startDate = iso(t0 + DAY).slice(0, 10);
  const course = await post('/v1/courses', {
    screeningId: screening.body.screeningId,
    startDate,
    followUpOffsets: options.followUpOffsets,
  }).expect(201);
  remember(course.body.resources);
  const courseId = course.body.courseId as string;

  const session = (n: 1 | 2, at: number, vitals: [number, number, number][]) =>
    post(`/v1/courses/${courseId}/dosing-sessions`, {
      sessionNumber: n,
      doseLevel: n === 1 ? 'low' : 'moderate',
      route: n === 1 ? 'intramuscular' : 'sublingual',
      dose: n === 1 ? { value: 0.5, unit: 'mg/kg' } : { value: 200, unit: 'mg' },
      start: iso(at),
      end: iso(at + 100 * 60_000),
      vitals: vitals.map(([systolic, diastolic, heartRate], i) => ({ at: iso(at + i * 20 * 60_000), systolic, diastolic, heartRate })),
      experience: { dissociation: n === 1 ? 4 : 7, egoDissolution: n === 1 ? 2 : 6, distress: 2 },
    }).expect(201);
  const measures: CourseScenario['measureResponses'] = [];
  const measure = async (body: Record<string, unknown>) => {
    const res = await post(`/v1/courses/${courseId}/measures`, body).expect(201);
    remember(res.body.resources);
    measures.push(res.body);
  };

  const s1 = await session(1, t0 + 5 * DAY, [
    [142, 86, 76],
    [184, 104, 96],
    [156, 92, 84],
    [138, 84, 74],
  ]);
  remember(s1.body.resources);
  await post(`/v1/follow-ups/${s1.body.followUps[0].id}/complete`, {
    completedAt: iso(t0 + 5.8 * DAY),
    note: 'Integration session held',
  }).expect(200);
  await measure({
    measuredAt: iso(t0 + 7 * DAY),
    timepoint: 'after-session-1',
    phq9: [2, 2, 1, 2, 1, 2, 1, 1, 0],
    gad7: [2, 2, 1, 2, 1, 1, 1],
  });
  const s2 = await session(2, t0 + 12 * DAY, [
    [128, 82, 72],
    [136, 88, 80],
    [130, 84, 76],
  ]);
  remember(s2.body.resources);
  await measure({
    measuredAt: iso(t0 + 14 * DAY),
    timepoint: 'after-session-2',
    phq9: [1, 1, 1, 1, 1, 1, 1, 0, 1],
    gad7: [1, 1, 1, 1, 1, 1, 1],
  });
  const goc = await post(`/v1/courses/${courseId}/goals-of-care`, {
    discussedAt: iso(t0 + 16 * DAY),
    participants: ['Patient', 'Palliative physician', 'Psychotherapist'],
    values: ['Being at home with family'],
    goals: [
      { description: 'Remain at home with symptom control', priority: 'high-priority' },
      { description: 'Reconnect with estranged brother', priority: 'medium-priority' },
    ],
    preferences: { placeOfCare: 'Home', codeStatus: 'Do not attempt resuscitation' },
  }).expect(201);
  remember(goc.body.resources);
  await measure({
    measuredAt: iso(t0 + 20 * DAY),
    timepoint: 'end-of-course',
    phq9: [1, 1, 1, 1, 0, 1, 1, 0, 0],
    gad7: [1, 1, 1, 0, 1, 1, 0],
  });
  await post(`/v1/courses/${courseId}/stop`, { reason: 'completed' }).expect(200);

  return {
    courseId,
    screeningId: screening.body.screeningId,
    known,
    phq9: [17, 12, 8, 6],
    gad7: [14, 10, 7, 5],
    measureResponses: measures,
  };
}
