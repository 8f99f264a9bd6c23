import type { Bundle, Resource } from '@medplum/fhirtypes';
import request from 'supertest';
import { until } from './poll';
import { screeningRequest, courseStartYesterday } from './requests';
import type { Stack } from './stack';

/** A dosing session request; session 2 reports an adverse event and a blood pressure above the in-session alert threshold. */
export const sessionRequest = (n: 1 | 2, start: Date) => ({
  sessionNumber: n,
  doseLevel: n === 1 ? 'low' : 'moderate',
  route: 'intramuscular',
  dose: { value: n === 1 ? 0.5 : 0.75, unit: 'mg/kg' },
  start: start.toISOString(),
  end: new Date(start.getTime() + 90 * 60_000).toISOString(),
  vitals: [
    { at: start.toISOString(), systolic: 128, diastolic: 80, heartRate: 72, spo2: 98 },
    { at: new Date(start.getTime() + 20 * 60_000).toISOString(), systolic: 138, diastolic: 84, heartRate: 80 },
    {
      at: new Date(start.getTime() + 40 * 60_000).toISOString(),
      systolic: n === 2 ? 192 : 142,
      diastolic: n === 2 ? 104 : 88,
      heartRate: 84,
    },
  ],
  experience: { dissociation: n === 1 ? 4 : 7, egoDissolution: n === 1 ? 2 : 6, distress: 1 },
  ...(n === 2 ? { adverseEvents: [{ description: 'Transient nausea after dosing', severity: 'mild' }] } : {}),
});

export interface CourseRun {
  readonly patientId: string;
  readonly courseId: string;
  readonly carePlanId: string;
}

/**
 * The opening of every course: a screening, its course (started yesterday) and session 1
 * ninety minutes ago, each through the API and expected to be accepted (201).
 */
export async function startCourseWithFirstSession(
  app: Stack['app'],
): Promise<{ patientId: string; courseId: string; carePlanId: string; session1: request.Response }> {
  const screening = await request(app).post('/v1/screenings').send(screeningRequest()).expect(201);
  const patientId = ((screening.body.resources as Bundle).entry ?? [])
    .map((e) => e.resource as Resource)
    .find((r) => r.resourceType === 'Patient')?.id as string;
  const course = await request(app)
    .post('/v1/courses')
    .send({ screeningId: screening.body.screeningId, startDate: courseStartYesterday() })
    .expect(201);
  const courseId = course.body.courseId as string;
  const session1 = await request(app)
    .post(`/v1/courses/${courseId}/dosing-sessions`)
    .send(sessionRequest(1, new Date(Date.now() - 90 * 60_000)))
    .expect(201);
  return { patientId, courseId, carePlanId: course.body.carePlanId as string, session1 };
}

/**
 * A whole course through the API as a client would send it: screening, course, session 1
 * with serial vitals, follow-ups (one completed, two escalated), session 2 with an adverse
 * event and an alerting blood pressure, goals of care, stop. Needs a running worker (the
 * follow-ups escalate in it) and FOLLOW_UP_OFFSETS of seconds.
 */
export async function runWholeCourse(stack: Stack): Promise<CourseRun> {
  const app = stack.app;
  const { patientId, courseId, carePlanId, session1: s1 } = await startCourseWithFirstSession(app);
  const [first] = s1.body.followUps as Array<{ id: string }>;
  await request(app)
    .post(`/v1/follow-ups/${first?.id}/complete`)
    .send({ completedAt: new Date().toISOString(), note: 'Integration went well' })
    .expect(200);
  await until(
    async () => {
      const view = await request(app).get(`/v1/courses/${courseId}`).expect(200);
      return view.body.followUps.map((f: { status: string }) => f.status).join() === 'completed,escalated,escalated';
    },
    30_000,
    'two follow-ups to escalate',
    250,
  );
  await request(app)
    .post(`/v1/courses/${courseId}/dosing-sessions`)
    .send(sessionRequest(2, new Date(Date.now() - 90 * 60_000)))
    .expect(201);
  await request(app)
    .post(`/v1/courses/${courseId}/goals-of-care`)
    .send({
      discussedAt: new Date().toISOString(),
      participants: ['Patient', 'Daughter', 'Palliative care physician'],
      values: ['Being at home with family'],
      goals: [
        { description: 'Remain at home until the end of life', priority: 'high-priority' },
        { description: 'Reconcile with brother' },
      ],
      preferences: { placeOfCare: 'Home', codeStatus: 'Do not attempt resuscitation' },
      decisions: ['Hospice referral'],
    })
    .expect(201);
  await request(app).post(`/v1/courses/${courseId}/stop`).send({ reason: 'completed' }).expect(200);
  return { patientId, courseId, carePlanId };
}

/** Every resource of `type` on a FHIR server, following `next` links. */
export { ehrAll as everything } from './ehr-audit';

/** Relative references on the EHR that point at nothing there. */
export function danglingReferences(resources: readonly Resource[]): string[] {
  const present = new Set(resources.map((r) => `${r.resourceType}/${r.id}`));
  const out: string[] = [];
  for (const r of resources) {
    JSON.stringify(r, (key, value) => {
      if (key === 'reference' && typeof value === 'string' && /^[A-Z][A-Za-z]+\/[^/]+$/.test(value) && !present.has(value)) {
        out.push(`${r.resourceType}/${r.id} → ${value}`);
      }
      return value;
    });
  }
  return out;
}
