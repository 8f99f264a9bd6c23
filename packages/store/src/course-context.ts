/**
 * What a command on a course reads besides the course row itself, in one statement: its
 * sessions, its goals-of-care discussions, its current CarePlan and its screening. The
 * course row is read (and locked) first, by a statement of its own: these are read after
 * the lock is held, so they include whatever the transaction that held it before committed.
 */
import type { CarePlan } from '@medplum/fhirtypes';
import type { TenantDb } from './tenant';
import { DOSING_SESSION_COLUMNS, dosingSessionFromRecord, type DosingSessionRow } from './dosing-sessions';
import { GOALS_OF_CARE_COLUMNS, goalsOfCareFromRecord, type GoalsOfCareRow } from './goals-of-care';
import { SCREENING_COLUMNS, screeningFromRecord, type ScreeningRow } from './screenings';

export interface CourseContext {
  /** By session number. */
  readonly sessions: DosingSessionRow[];
  /** Oldest first. */
  readonly goalsOfCare: GoalsOfCareRow[];
  readonly carePlan: CarePlan | undefined;
  readonly screening: ScreeningRow | undefined;
}

/**
 * The course's sessions, discussions, CarePlan and screening, as listDosingSessions,
 * listGoalsOfCare, readResource and getScreening give them.
 */
export async function readCourseContext(
  db: TenantDb,
  course: { readonly id: string; readonly carePlanId: string; readonly screeningId: string },
): Promise<CourseContext> {
  const [row] = await db.query<{
    sessions: Parameters<typeof dosingSessionFromRecord>[0][];
    goals: Parameters<typeof goalsOfCareFromRecord>[0][];
    care_plan: CarePlan | null;
    screening: Parameters<typeof screeningFromRecord>[0] | null;
  }>(
    `SELECT
       (SELECT COALESCE(json_agg(s ORDER BY s.session_number), '[]') FROM (SELECT ${DOSING_SESSION_COLUMNS} FROM dosing_sessions WHERE course_id = $1) s) AS sessions,
       (SELECT COALESCE(json_agg(g ORDER BY g.discussed_at, g.id), '[]') FROM (SELECT ${GOALS_OF_CARE_COLUMNS} FROM goals_of_care WHERE course_id = $1) g) AS goals,
       (SELECT content FROM resources WHERE resource_type = 'CarePlan' AND id = $2) AS care_plan,
       (SELECT row_to_json(x) FROM (SELECT ${SCREENING_COLUMNS} FROM screenings WHERE id = $3) x) AS screening`,
    [course.id, course.carePlanId, course.screeningId],
  );
  return {
    sessions: (row?.sessions ?? []).map(dosingSessionFromRecord),
    goalsOfCare: (row?.goals ?? []).map(goalsOfCareFromRecord),
    carePlan: row?.care_plan ?? undefined,
    screening: row?.screening ? screeningFromRecord(row.screening) : undefined,
  };
}
