/**
 * Integration follow-ups after each dosing session. `(course_id, session_number,
 * sequence)` is the business key, so scheduling the same session twice is a no-op.
 */
import { randomUUID } from 'node:crypto';
import type { FollowUpStatus } from '@kap/domain';
import type { TenantDb } from './tenant';
import { instantParam, isoFrom, isoOrNull, jsonParam, numberFrom, textOrNull, type Instant } from './sql-values';

export interface FollowUpRow {
  id: string;
  courseId: string;
  sessionNumber: number;
  /** 1-based position among the session's follow-ups. */
  sequence: number;
  dueBy: string;
  status: FollowUpStatus;
  /** The FHIR Task that tracks it, if one was written. */
  taskId: string | null;
  completedAt: string | null;
  note: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewFollowUp {
  /** Generated (a UUID) when left out. */
  id?: string;
  courseId: string;
  sessionNumber: number;
  sequence: number;
  dueBy: Instant;
  taskId?: string | null;
}

export interface SetFollowUpStatusOptions {
  /** Stored in `note` (completion notes). Left unchanged when undefined. */
  note?: string;
  /**
   * Change only from one of these statuses: a compare-and-set, so a worker escalating a
   * follow-up cannot overwrite a completion that landed after it read the row.
   */
  onlyFrom?: readonly FollowUpStatus[];
}

const COLUMNS = 'id, course_id, session_number, sequence, due_by, status, task_id, completed_at, note, created_at, updated_at';

interface FollowUpRecord {
  id: string;
  course_id: string;
  session_number: unknown;
  sequence: unknown;
  due_by: unknown;
  status: FollowUpStatus;
  task_id: unknown;
  completed_at: unknown;
  note: unknown;
  created_at: unknown;
  updated_at: unknown;
}

function toRow(record: FollowUpRecord): FollowUpRow {
  return {
    id: record.id,
    courseId: record.course_id,
    sessionNumber: numberFrom(record.session_number),
    sequence: numberFrom(record.sequence),
    dueBy: isoFrom(record.due_by),
    status: record.status,
    taskId: textOrNull(record.task_id),
    completedAt: isoOrNull(record.completed_at),
    note: textOrNull(record.note),
    createdAt: isoFrom(record.created_at),
    updatedAt: isoFrom(record.updated_at),
  };
}

/** The columns and the row of a follow-up, for statements that write them beside other rows (as JSON). */
export const FOLLOW_UP_COLUMNS = COLUMNS;
export const followUpFromRecord = toRow;

/**
 * Schedules follow-ups (status `scheduled`). A key already present keeps its stored row.
 * Returns the stored row for every given key, in the order given.
 */
export async function insertFollowUps(db: TenantDb, followUps: readonly NewFollowUp[]): Promise<FollowUpRow[]> {
  if (followUps.length === 0) return [];
  return db.transaction(async (tx) => {
    const input = followUps.map((f) => ({
      id: f.id ?? randomUUID(),
      course_id: f.courseId,
      session_number: f.sessionNumber,
      sequence: f.sequence,
      due_by: instantParam(f.dueBy),
      task_id: f.taskId ?? null,
    }));
    // One statement for all; a key already present is read back after.
    const inserted = await tx.query<FollowUpRecord>(
      `INSERT INTO follow_ups (id, course_id, session_number, sequence, due_by, task_id)
       SELECT id, course_id, session_number, sequence, due_by, task_id
       FROM jsonb_to_recordset($1::jsonb) AS f(id text, course_id text, session_number integer, sequence integer, due_by timestamptz, task_id text)
       ON CONFLICT (course_id, session_number, sequence) DO NOTHING RETURNING ${COLUMNS}`,
      [jsonParam(input)],
    );
    const keyOf = (courseId: string, sessionNumber: unknown, sequence: unknown): string =>
      `${courseId}/${numberFrom(sessionNumber)}/${numberFrom(sequence)}`;
    const byKey = new Map(inserted.map((r) => [keyOf(r.course_id, r.session_number, r.sequence), r]));
    const rows: FollowUpRow[] = [];
    for (const f of followUps) {
      const record =
        byKey.get(keyOf(f.courseId, f.sessionNumber, f.sequence)) ??
        (
          await tx.query<FollowUpRecord>(
            `SELECT ${COLUMNS} FROM follow_ups WHERE course_id = $1 AND session_number = $2 AND sequence = $3`,
            [f.courseId, f.sessionNumber, f.sequence],
          )
        )[0];
      if (!record) throw new Error('Follow-up neither inserted nor found');
      rows.push(toRow(record));
    }
    return rows;
  });
}

/** The follow-up with this id, or undefined. */
export async function getFollowUp(db: TenantDb, id: string): Promise<FollowUpRow | undefined> {
  const [record] = await db.query<FollowUpRecord>(`SELECT ${COLUMNS} FROM follow_ups WHERE id = $1`, [id]);
  return record && toRow(record);
}

/** A course's follow-ups by session, then sequence. */
export async function listFollowUps(db: TenantDb, courseId: string): Promise<FollowUpRow[]> {
  const records = await db.query<FollowUpRecord>(
    `SELECT ${COLUMNS} FROM follow_ups WHERE course_id = $1 ORDER BY session_number, sequence`,
    [courseId],
  );
  return records.map(toRow);
}

/**
 * Sets the status; `at` (default now) becomes `completed_at` when the status is
 * `completed`, and `updated_at` always. Returns the updated row, or undefined when the
 * follow-up is unknown or not in one of `opts.onlyFrom`.
 */
export async function setFollowUpStatus(
  db: TenantDb,
  id: string,
  status: FollowUpStatus,
  at?: Instant,
  opts: SetFollowUpStatusOptions = {},
): Promise<FollowUpRow | undefined> {
  const when = instantParam(at ?? new Date());
  const params: unknown[] = [id, status, when, opts.note ?? null];
  let guard = '';
  if (opts.onlyFrom) {
    params.push(JSON.stringify(opts.onlyFrom));
    // A plain condition on the row, not an IN (SELECT …) semi-join: when a concurrent transaction
    // changed the row first (an escalation), PostgreSQL re-checks only such conditions against the
    // new version; the semi-join form matched nothing then, and a completion answered 409.
    guard = ` AND $${params.length}::jsonb ? status`;
  }
  const [record] = await db.query<FollowUpRecord>(
    `UPDATE follow_ups SET
       status = $2,
       completed_at = CASE WHEN $2 = 'completed' THEN $3::timestamptz ELSE completed_at END,
       note = COALESCE($4, note),
       updated_at = $3::timestamptz
     WHERE id = $1${guard} RETURNING ${COLUMNS}`,
    params,
  );
  return record && toRow(record);
}

/** Records the FHIR Task written for a follow-up after it was scheduled. */
export async function setFollowUpTask(db: TenantDb, id: string, taskId: string): Promise<boolean> {
  const rows = await db.query('UPDATE follow_ups SET task_id = $2, updated_at = now() WHERE id = $1 RETURNING id', [id, taskId]);
  return rows.length > 0;
}

/**
 * Cancels every follow-up of a course still open, scheduled or escalated, when the course
 * stops, and returns them: an escalated one is overdue but still asks the care team for
 * work that will no longer happen. Its escalation stays on record in the Task's history.
 */
export async function cancelPendingFollowUps(db: TenantDb, courseId: string): Promise<FollowUpRow[]> {
  const records = await db.query<FollowUpRecord>(
    `UPDATE follow_ups SET status = 'cancelled', updated_at = now()
     WHERE course_id = $1 AND status IN ('scheduled', 'escalated') RETURNING ${COLUMNS}`,
    [courseId],
  );
  return records.map(toRow).sort((a, b) => a.sessionNumber - b.sessionNumber || a.sequence - b.sequence);
}
