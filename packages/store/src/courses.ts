/**
 * A KAP course: started from a screening, planned by one CarePlan, stopped once with a
 * reason. The order rules live in `@kap/domain` (`checkCourseStart`, `phaseOf`).
 */
import { randomUUID } from 'node:crypto';
import type { StopReason } from '@kap/domain';
import type { TenantDb } from './tenant';
import { instantParam, isoFrom, isoOrNull, type Instant } from './sql-values';

export interface CourseRow {
  id: string;
  screeningId: string;
  patientId: string;
  carePlanId: string;
  /** Calendar date, `YYYY-MM-DD`. */
  startDate: string;
  stoppedReason: StopReason | null;
  stoppedAt: string | null;
  createdAt: string;
  /** This course's follow-up offsets (ISO 8601 durations), or null for the site's. */
  followUpOffsets: string[] | null;
}

export interface NewCourse {
  /** Generated (a UUID) when left out. */
  id?: string;
  screeningId: string;
  patientId: string;
  carePlanId: string;
  /** `YYYY-MM-DD`; a full ISO date-time is cut to its date as written. */
  startDate: string;
  followUpOffsets?: readonly string[] | null;
}

// start_date goes out as text: pg would turn a date into a local-midnight Date.
const COLUMNS =
  'id, screening_id, patient_id, care_plan_id, start_date::text AS start_date, stopped_reason, stopped_at, created_at, follow_up_offsets';

interface CourseRecord {
  id: string;
  screening_id: string;
  patient_id: string;
  care_plan_id: string;
  start_date: string;
  stopped_reason: StopReason | null;
  stopped_at: unknown;
  created_at: unknown;
  follow_up_offsets: string[] | null;
}

function toRow(record: CourseRecord): CourseRow {
  return {
    id: record.id,
    screeningId: record.screening_id,
    patientId: record.patient_id,
    carePlanId: record.care_plan_id,
    startDate: record.start_date,
    stoppedReason: record.stopped_reason ?? null,
    stoppedAt: isoOrNull(record.stopped_at),
    createdAt: isoFrom(record.created_at),
    followUpOffsets: record.follow_up_offsets ?? null,
  };
}

/**
 * Stores a course; returns it as stored, or undefined when the screening already has one
 * (a concurrent request may have started it: the caller answers 409).
 */
export async function insertCourse(db: TenantDb, course: NewCourse): Promise<CourseRow | undefined> {
  const [record] = await db.query<CourseRecord>(
    `INSERT INTO courses (id, screening_id, patient_id, care_plan_id, start_date, follow_up_offsets)
     VALUES ($1, $2, $3, $4, $5::date, $6::jsonb) ON CONFLICT (screening_id) DO NOTHING RETURNING ${COLUMNS}`,
    [
      course.id ?? randomUUID(),
      course.screeningId,
      course.patientId,
      course.carePlanId,
      course.startDate.slice(0, 10),
      course.followUpOffsets ? JSON.stringify(course.followUpOffsets) : null,
    ],
  );
  return record && toRow(record);
}

/** The course with this id, or undefined. */
export async function getCourse(db: TenantDb, id: string, options: { forUpdate?: boolean } = {}): Promise<CourseRow | undefined> {
  // forUpdate: the row is read and locked until the transaction ends in one statement.
  const [record] = await db.query<CourseRecord>(`SELECT ${COLUMNS} FROM courses WHERE id = $1${options.forUpdate ? ' FOR UPDATE' : ''}`, [
    id,
  ]);
  return record && toRow(record);
}

/** The courses started from one screening, oldest first. */
export async function listCoursesForScreening(db: TenantDb, screeningId: string): Promise<CourseRow[]> {
  const records = await db.query<CourseRecord>(`SELECT ${COLUMNS} FROM courses WHERE screening_id = $1 ORDER BY created_at, id`, [
    screeningId,
  ]);
  return records.map(toRow);
}

/**
 * Stops a running course; returns false when it is unknown or already stopped, so two
 * concurrent stops cannot both cancel follow-ups and report success.
 */
export async function stopCourse(db: TenantDb, id: string, reason: StopReason, at: Instant): Promise<boolean> {
  const rows = await db.query('UPDATE courses SET stopped_reason = $2, stopped_at = $3 WHERE id = $1 AND stopped_at IS NULL RETURNING id', [
    id,
    reason,
    instantParam(at),
  ]);
  return rows.length > 0;
}
