import { notFound } from '@kap/fhir';
import { getCourse, readCourseContext, type CourseRow, type ScreeningRow, type TenantDb } from '@kap/store';
import type { CourseFacts } from '@kap/domain';
import type { CarePlan } from '@medplum/fhirtypes';

export interface LoadedCourse {
  readonly course: CourseRow;
  readonly facts: CourseFacts;
  readonly carePlan: CarePlan;
  /** The screening the course started from (undefined if it went missing). */
  readonly screening: ScreeningRow | undefined;
}

/** A course with what the domain rules need to know about it, and its current CarePlan; 404 if unknown. */
export async function loadCourse(db: TenantDb, courseId: string): Promise<LoadedCourse> {
  // Inside a command's transaction this holds the course until commit, so two writes to
  // one course (a measure and a session, both revising the CarePlan) cannot lose either's revision.
  const course = await getCourse(db, courseId, { forUpdate: true });
  if (!course) throw notFound(`Course ${courseId}`);
  // The rest in one statement, once the lock is held: it sees what the previous holder committed.
  const { sessions, goalsOfCare, carePlan, screening } = await readCourseContext(db, course);
  if (!carePlan) throw new Error(`CarePlan/${course.carePlanId} of course ${courseId} is missing`);
  return {
    course,
    carePlan,
    screening,
    facts: {
      sessionsRecorded: sessions.map((s) => s.sessionNumber),
      goalsOfCareRecorded: goalsOfCare.length > 0,
      stoppedReason: course.stoppedReason,
    },
  };
}
