/**
 * The transactional outbox: work for the queues is written in the same transaction as the
 * data it concerns, then a relay hands it to Redis. If Redis loses a job, the row is still
 * here and the relay dispatches it again, so nothing accepted is lost.
 */
import type { Db } from './db';
import { instantParam, isoFrom, isoOrNull, jsonParam, numberFrom, textOrNull, type Instant, type JsonValue } from './sql-values';

/** A job payload. Ids only: queues keep payloads in clear text, so no patient data. */
export type OutboxPayload = { readonly [key: string]: JsonValue };

export interface OutboxRow {
  id: number;
  topic: string;
  patientId: string | null;
  payload: OutboxPayload;
  createdAt: string;
  availableAt: string;
  dispatchedAt: string | null;
  completedAt: string | null;
  attempts: number;
  lastError: string | null;
  /** Set when the queue gave up: a dead letter, waiting to be re-driven. */
  deadAt: string | null;
}

export interface NewOutboxMessage {
  /** The queue or job kind, e.g. `ehr-sync`. */
  topic: string;
  patientId?: string | null;
  payload: OutboxPayload;
  /** Not to be dispatched before this instant (default now). */
  availableAt?: Instant;
}

export interface ListUndispatchedOptions {
  limit: number;
  /**
   * Also return rows dispatched more than this long ago and still not completed: the job
   * was probably lost (Redis flushed, worker died) and may be dispatched again.
   */
  olderThanMs?: number;
}

const COLUMNS =
  'id, topic, patient_id, payload, created_at, available_at, dispatched_at, completed_at, attempts, last_error, dead_at';

interface OutboxRecord {
  id: unknown;
  topic: string;
  patient_id: unknown;
  payload: OutboxPayload;
  created_at: unknown;
  available_at: unknown;
  dispatched_at: unknown;
  completed_at: unknown;
  attempts: unknown;
  last_error: unknown;
  dead_at: unknown;
}

function toRow(record: OutboxRecord): OutboxRow {
  return {
    id: numberFrom(record.id),
    topic: record.topic,
    patientId: textOrNull(record.patient_id),
    payload: record.payload,
    createdAt: isoFrom(record.created_at),
    availableAt: isoFrom(record.available_at),
    dispatchedAt: isoOrNull(record.dispatched_at),
    completedAt: isoOrNull(record.completed_at),
    attempts: numberFrom(record.attempts),
    lastError: textOrNull(record.last_error),
    deadAt: isoOrNull(record.dead_at),
  };
}

/** Adds a message; call it with the transaction that writes the data, so both commit or neither. */
export async function enqueueOutbox(db: Db, message: NewOutboxMessage): Promise<OutboxRow> {
  const [record] = await db.query<OutboxRecord>(
    `INSERT INTO outbox (topic, patient_id, payload, available_at)
     VALUES ($1, $2, $3::jsonb, COALESCE($4::timestamptz, now())) RETURNING ${COLUMNS}`,
    [
      message.topic,
      message.patientId ?? null,
      jsonParam(message.payload),
      message.availableAt === undefined ? null : instantParam(message.availableAt),
    ],
  );
  if (!record) throw new Error('INSERT returned no row');
  return toRow(record);
}

/**
 * Rows to dispatch, oldest first: not completed, available now, and never dispatched or
 * (with `olderThanMs`) dispatched longer ago than that.
 */
export async function listUndispatched(db: Db, opts: ListUndispatchedOptions): Promise<OutboxRow[]> {
  const stale =
    opts.olderThanMs === undefined
      ? 'FALSE'
      : "dispatched_at <= now() - $2::double precision * interval '1 millisecond'";
  const params: unknown[] = [Math.max(Math.trunc(opts.limit), 0)];
  if (opts.olderThanMs !== undefined) params.push(opts.olderThanMs);
  const records = await db.query<OutboxRecord>(
    `SELECT ${COLUMNS} FROM outbox
     WHERE completed_at IS NULL AND dead_at IS NULL AND available_at <= now() AND (dispatched_at IS NULL OR ${stale})
     ORDER BY id LIMIT $1`,
    params,
  );
  return records.map(toRow);
}

/** Records that these rows were handed to the queue now. */
export async function markDispatched(db: Db, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `UPDATE outbox SET dispatched_at = now()
     WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)`,
    [jsonParam(ids)],
  );
}

/** Records that the job finished; the row is never dispatched again. */
export async function markCompleted(db: Db, id: number): Promise<void> {
  await db.query('UPDATE outbox SET completed_at = COALESCE(completed_at, now()) WHERE id = $1', [id]);
}

/**
 * Counts a failed attempt and keeps its error. The row stays dispatched: the queue retries
 * on its own, and the relay's `olderThanMs` sweep catches a job the queue gave up on.
 */
export async function recordFailure(db: Db, id: number, error: string): Promise<void> {
  await db.query('UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1', [id, error]);
}

/** The row with this id, or undefined. */
export async function getOutboxMessage(db: Db, id: number): Promise<OutboxRow | undefined> {
  const [record] = await db.query<OutboxRecord>(`SELECT ${COLUMNS} FROM outbox WHERE id = $1`, [id]);
  return record && toRow(record);
}

/** How many rows are not completed yet (for /ready and metrics). */
export async function countPending(db: Db): Promise<number> {
  const [row] = await db.query<{ n: unknown }>('SELECT count(*)::int AS n FROM outbox WHERE completed_at IS NULL');
  return numberFrom(row?.n ?? 0);
}

/** The queue gave up on this row's job: it becomes a dead letter, kept with its last error. */
export async function markDead(db: Db, id: number, error: string): Promise<void> {
  await db.query(
    'UPDATE outbox SET dead_at = COALESCE(dead_at, now()), last_error = $2 WHERE id = $1 AND completed_at IS NULL',
    [id, error],
  );
}

/** Dead letters, oldest first. */
export async function listDeadLetters(db: Db, opts: { limit: number; offset?: number }): Promise<OutboxRow[]> {
  const records = await db.query<OutboxRecord>(
    `SELECT ${COLUMNS} FROM outbox WHERE dead_at IS NOT NULL AND completed_at IS NULL ORDER BY id LIMIT $1 OFFSET $2`,
    [Math.max(Math.trunc(opts.limit), 0), Math.max(Math.trunc(opts.offset ?? 0), 0)],
  );
  return records.map(toRow);
}

/**
 * Puts a dead letter back in line: the relay dispatches it again on its next pass.
 * Returns the row, or undefined when it is not a dead letter (unknown, live or done).
 */
export async function redriveDeadLetter(db: Db, id: number): Promise<OutboxRow | undefined> {
  const [record] = await db.query<OutboxRecord>(
    `UPDATE outbox SET dead_at = NULL, dispatched_at = NULL, attempts = 0
     WHERE id = $1 AND dead_at IS NOT NULL AND completed_at IS NULL RETURNING ${COLUMNS}`,
    [id],
  );
  return record && toRow(record);
}

/** Oldest pending row's age in seconds (sync lag for metrics), 0 when nothing is pending. */
export async function oldestPendingAgeSeconds(db: Db, topic?: string): Promise<number> {
  const [row] = await db.query<{ age: unknown }>(
    `SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS age FROM outbox
     WHERE completed_at IS NULL AND dead_at IS NULL AND ($1::text IS NULL OR topic = $1)`,
    [topic ?? null],
  );
  return Number(row?.age ?? 0);
}

/**
 * Completes the open rows of `topic` whose payload `key` is one of `values`: when a
 * follow-up is done or cancelled, its timers have nothing left to do.
 */
export async function completeOutboxMatching(db: Db, topic: string, key: string, values: readonly string[]): Promise<number> {
  if (values.length === 0) return 0;
  const rows = await db.query(
    `UPDATE outbox SET completed_at = now()
     WHERE topic = $1 AND completed_at IS NULL AND payload->>$2 IN (SELECT jsonb_array_elements_text($3::jsonb))
     RETURNING id`,
    [topic, key, JSON.stringify(values)],
  );
  return rows.length;
}
