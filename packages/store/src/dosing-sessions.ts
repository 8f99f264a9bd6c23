/** The dosing sessions of a course, at most one per session number. */
import { randomUUID } from 'node:crypto';
import type { DoseLevel } from '@kap/domain';
import type { TenantDb } from './tenant';
import { FOLLOW_UP_COLUMNS, followUpFromRecord, insertFollowUps, type FollowUpRow, type NewFollowUp } from './follow-ups';
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

/** The columns and the row of a session, for statements that read sessions beside other rows (as JSON). */
export const DOSING_SESSION_COLUMNS = COLUMNS;
export const dosingSessionFromRecord = toRow;

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

export interface RecordedDosingSession {
  /** Undefined when the course already has this session number (nothing was written). */
  readonly session: DosingSessionRow | undefined;
  /** As insertFollowUps returns them, in the order given; empty when the session was not stored. */
  readonly followUps: FollowUpRow[];
}

/**
 * insertDosingSession and, only if the session was stored, insertFollowUps, in one
 * statement: one round trip instead of two (a third only when a follow-up key was taken).
 */
export async function insertDosingSessionWithFollowUps(
  db: TenantDb,
  session: NewDosingSession,
  followUps: readonly NewFollowUp[],
): Promise<RecordedDosingSession> {
  const given = followUps.map((f) => ({
    id: f.id ?? randomUUID(),
    course_id: f.courseId,
    session_number: f.sessionNumber,
    sequence: f.sequence,
    due_by: instantParam(f.dueBy),
    task_id: f.taskId ?? null,
  }));
  const [row] = await db.query<{ session: DosingSessionRecord | null; follow_ups: Parameters<typeof followUpFromRecord>[0][] }>(
    `WITH s AS (
       INSERT INTO dosing_sessions (id, course_id, session_number, start_time, end_time, dose_level, resource_refs)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
       ON CONFLICT (course_id, session_number) DO NOTHING RETURNING ${COLUMNS}
     ),
     f AS (
       INSERT INTO follow_ups (id, course_id, session_number, sequence, due_by, task_id)
       SELECT id, course_id, session_number, sequence, due_by, task_id
       FROM jsonb_to_recordset($8::jsonb) AS f(id text, course_id text, session_number integer, sequence integer, due_by timestamptz, task_id text)
       WHERE EXISTS (SELECT 1 FROM s)
       ON CONFLICT (course_id, session_number, sequence) DO NOTHING RETURNING ${FOLLOW_UP_COLUMNS}
     )
     SELECT (SELECT row_to_json(s) FROM s) AS session, (SELECT COALESCE(json_agg(f), '[]') FROM f) AS follow_ups`,
    [
      session.id ?? randomUUID(),
      session.courseId,
      session.sessionNumber,
      instantParam(session.start),
      instantParam(session.end),
      session.doseLevel,
      jsonParam(session.resourceRefs),
      jsonParam(given),
    ],
  );
  if (!row?.session) return { session: undefined, followUps: [] };
  const inserted = row.follow_ups.map(followUpFromRecord);
  const byKey = new Map(inserted.map((f) => [`${f.courseId}/${f.sessionNumber}/${f.sequence}`, f]));
  const rows = followUps.map((f) => byKey.get(`${f.courseId}/${f.sessionNumber}/${f.sequence}`));
  // A key already present keeps its stored row: insertFollowUps reads those back.
  const all = rows.every((f) => f !== undefined)
    ? (rows as FollowUpRow[])
    : await insertFollowUps(
        db,
        followUps.map((f, i) => ({ ...f, id: given[i]?.id })),
      );
  return { session: toRow(row.session), followUps: all };
}

/** A course's sessions by session number. */
export async function listDosingSessions(db: TenantDb, courseId: string): Promise<DosingSessionRow[]> {
  const records = await db.query<DosingSessionRecord>(
    `SELECT ${COLUMNS} FROM dosing_sessions WHERE course_id = $1 ORDER BY session_number`,
    [courseId],
  );
  return records.map(toRow);
}
