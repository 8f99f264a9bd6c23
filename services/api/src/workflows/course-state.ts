import { notFound } from '@kap/fhir';
import { getCourse, listDosingSessions, listGoalsOfCare, readResource, type CourseRow, type TenantDb } from '@kap/store';
import type { CourseFacts } from '@kap/domain';
import type { CarePlan } from '@medplum/fhirtypes';

export interface LoadedCourse {
  readonly course: CourseRow;
  readonly facts: CourseFacts;
  readonly carePlan: CarePlan;
}

/** A course with what the domain rules need to know about it, and its current CarePlan; 404 if unknown. */
export async function loadCourse(db: TenantDb, courseId: string): Promise<LoadedCourse> {
  // Inside a command's transaction this holds the course until commit, so two writes to
  // one course (a measure and a session, both revising the CarePlan) cannot lose either's revision.
  const course = await getCourse(db, courseId, { forUpdate: true });
  if (!course) throw notFound(`Course ${courseId}`);
  // One after another: inside a transaction they share one connection.
  const sessions = await listDosingSessions(db, courseId);
  const goalsOfCare = await listGoalsOfCare(db, courseId);
  const carePlan = await readResource<CarePlan>(db, 'CarePlan', course.carePlanId);
  if (!carePlan) throw new Error(`CarePlan/${course.carePlanId} of course ${courseId} is missing`);
  return {
    course,
    carePlan,
    facts: {
      sessionsRecorded: sessions.map((s) => s.sessionNumber),
      goalsOfCareRecorded: goalsOfCare.length > 0,
      stoppedReason: course.stoppedReason,
    },
  };
}
