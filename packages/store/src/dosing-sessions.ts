/** The dosing sessions of a course, at most one per session number. */
import { randomUUID } from 'node:crypto';
import type { DoseLevel } from '@kap/domain';
import type { TenantDb } from './tenant';
import { instantParam, isoFrom, jsonParam, numberFrom, type Instant } from './sql-values';

export interface DosingSessionRow {
  id: string;
  courseId: string;
  sessionNumber: number;
  start: string;
  end: string;
  doseLevel: DoseLevel;
  /** References to the resources written, e.g. `{ procedure: 'Procedure/<id>' }`. */
  resourceRefs: Record<string, string>;
  createdAt: string;
}

export interface NewDosingSession {
  /** Generated (a UUID) when left out. */
  id?: string;
  courseId: string;
  sessionNumber: number;
  start: Instant;
  end: Instant;
  doseLevel: DoseLevel;
  resourceRefs: Readonly<Record<string, string>>;
}

const COLUMNS = 'id, course_id, session_number, start_time, end_time, dose_level, resource_refs, created_at';

interface DosingSessionRecord {
  id: string;
  course_id: string;
  session_number: unknown;
  start_time: unknown;
  end_time: unknown;
  dose_level: DoseLevel;
  resource_refs: Record<string, string>;
  created_at: unknown;
}

function toRow(record: DosingSessionRecord): DosingSessionRow {
  return {
    id: record.id,
    courseId: record.course_id,
    sessionNumber: numberFrom(record.session_number),
    start: isoFrom(record.start_time),
    end: isoFrom(record.end_time),
    doseLevel: record.dose_level,
    resourceRefs: record.resource_refs,
    createdAt: isoFrom(record.created_at),
  };
}

/**
 * Stores a session; returns undefined when the course already has this session number
 * (a concurrent request won the race the domain check could not see), so the caller can
 * roll back and answer 409.
 */
export async function insertDosingSession(db: TenantDb, session: NewDosingSession): Promise<DosingSessionRow | undefined> {
  const [record] = await db.query<DosingSessionRecord>(
    `INSERT INTO dosing_sessions (id, course_id, session_number, start_time, end_time, dose_level, resource_refs)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
     ON CONFLICT (course_id, session_number) DO NOTHING RETURNING ${COLUMNS}`,
    [
      session.id ?? randomUUID(),
      session.courseId,
      session.sessionNumber,
      instantParam(session.start),
      instantParam(session.end),
      session.doseLevel,
      jsonParam(session.resourceRefs),
    ],
  );
  return record && toRow(record);
}

/** A course's sessions by session number. */
export async function listDosingSessions(db: TenantDb, courseId: string): Promise<DosingSessionRow[]> {
  const records = await db.query<DosingSessionRecord>(
    `SELECT ${COLUMNS} FROM dosing_sessions WHERE course_id = $1 ORDER BY session_number`,
    [courseId],
  );
  return records.map(toRow);
}
