/**
 * The transactional outbox: work for the queues is written in the same transaction as the
 * data it concerns, then a relay hands it to Redis. If Redis loses a job, the row is still
 * here and the relay dispatches it again, so nothing accepted is lost.
 */
import type { DeploymentDb } from './db';
import type { TenantDb } from './tenant';

/** A row found by its id or key: the relay and the queue's failed handler (the deployment's) and a tenant's job alike. */
type EitherDb = TenantDb | DeploymentDb;
import { MARK_PENDING_SQL, pendingParam, type ResourceVersionRef } from './sync-state';
import type { WriteStatement } from './write-together';
import { instantParam, isoFrom, isoOrNull, jsonParam, numberFrom, textOrNull, type Instant, type JsonValue } from './sql-values';

/** A job payload. Ids only: queues keep payloads in clear text, so no patient data. */
export type OutboxPayload = { readonly [key: string]: JsonValue };

export interface OutboxRow {
  id: number;
  /** The row's identity in job payloads: a UUID no other database or restore reuses. */
  key: string;
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
  /** The BullMQ job ids of the latest dispatch (the first completes the row); new at every dispatch. */
  jobIds: string[];
  /** The tenant whose work this is: its job runs on that tenant's data and EHR. */
  tenantId: string;
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
  'id, key, topic, patient_id, payload, created_at, available_at, dispatched_at, completed_at, attempts, last_error, dead_at, job_ids, tenant_id';

interface OutboxRecord {
  id: unknown;
  key: unknown;
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
  job_ids: unknown;
  tenant_id: string;
}

function toRow(record: OutboxRecord): OutboxRow {
  return {
    id: numberFrom(record.id),
    key: String(record.key),
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
    jobIds: Array.isArray(record.job_ids) ? record.job_ids.map(String) : [],
    tenantId: record.tenant_id,
  };
}

/** Adds a message; call it with the transaction that writes the data, so both commit or neither. */
export async function enqueueOutbox(db: TenantDb, message: NewOutboxMessage): Promise<OutboxRow> {
  const [row] = await enqueueOutboxMany(db, [message]);
  if (!row) throw new Error('INSERT returned no row');
  return row;
}

/**
 * Adds a command's messages in one statement (one round trip, however many), in the order
 * given: their ids rise in that order, and the rows come back in it.
 */
export async function enqueueOutboxMany(db: TenantDb, messages: readonly NewOutboxMessage[]): Promise<OutboxRow[]> {
  return enqueueOutboxMarkingPending(db, [], messages);
}

const INSERT_OUTBOX = (param: string): string => `INSERT INTO outbox (topic, patient_id, payload, available_at)
     SELECT m.topic, m.patient_id, m.payload, COALESCE(m.available_at, now())
     FROM ROWS FROM (jsonb_to_recordset(${param}::jsonb) AS (topic text, patient_id text, payload jsonb, available_at timestamptz))
       WITH ORDINALITY AS m(topic, patient_id, payload, available_at, n)
     ORDER BY m.n
     RETURNING ${COLUMNS}`;

/**
 * `markPending(refs)` and `enqueueOutboxMany(messages)` in one statement (one round trip
 * instead of two): a command's stored versions and the work they ask for are written together.
 */
export async function enqueueOutboxMarkingPending(
  db: TenantDb,
  pending: readonly ResourceVersionRef[],
  messages: readonly NewOutboxMessage[],
): Promise<OutboxRow[]> {
  if (messages.length === 0) {
    if (pending.length > 0) await db.query(MARK_PENDING_SQL('$1'), [pendingParam(pending)]);
    return [];
  }
  const given = jsonParam(outboxInput(messages));
  const records =
    pending.length === 0
      ? await db.query<OutboxRecord>(INSERT_OUTBOX('$1'), [given])
      : // The sync_state rows and the outbox rows touch different tables: neither needs the other's result.
        await db.query<OutboxRecord>(`WITH pending AS (${MARK_PENDING_SQL('$2')}) ${INSERT_OUTBOX('$1')}`, [given, pendingParam(pending)]);
  if (records.length !== messages.length) throw new Error(`INSERT returned ${records.length} rows for ${messages.length}`);
  return records.map(toRow).sort((a, b) => a.id - b.id);
}

function outboxInput(messages: readonly NewOutboxMessage[]): unknown[] {
  return messages.map((m) => ({
    topic: m.topic,
    patient_id: m.patientId ?? null,
    payload: m.payload,
    available_at: m.availableAt === undefined ? null : instantParam(m.availableAt),
  }));
}

/** enqueueOutboxMarkingPending as statements, for writeTogether. */
export function outboxMarkingPending(pending: readonly ResourceVersionRef[], messages: readonly NewOutboxMessage[]): WriteStatement[] {
  const statements: WriteStatement[] = [];
  if (pending.length > 0) statements.push({ sql: `${MARK_PENDING_SQL('$1')} RETURNING id`, params: [pendingParam(pending)] });
  if (messages.length > 0) {
    statements.push({
      sql: INSERT_OUTBOX('$1'),
      params: [jsonParam(outboxInput(messages))],
      expectRows: messages.length,
      failure: `The outbox did not take all ${messages.length} rows`,
    });
  }
  return statements;
}

/**
 * Rows to dispatch: up to `limit` never dispatched, oldest first, then (with `olderThanMs`)
 * up to `limit` dispatched longer ago than that and still open. Each kind has its own
 * limit: open follow-up rows stay open for days, and a pile of them due a recheck must not
 * hold back new work (a course stop waiting behind hundreds of delayed timers), nor new
 * work hold back the recheck.
 */
export async function listUndispatched(db: DeploymentDb, opts: ListUndispatchedOptions): Promise<OutboxRow[]> {
  const open = 'completed_at IS NULL AND dead_at IS NULL AND available_at <= now()';
  const params: unknown[] = [Math.max(Math.trunc(opts.limit), 0)];
  const fresh = `(SELECT ${COLUMNS} FROM outbox WHERE ${open} AND dispatched_at IS NULL ORDER BY id LIMIT $1)`;
  let sql = fresh;
  if (opts.olderThanMs !== undefined) {
    params.push(opts.olderThanMs);
    sql = `${fresh} UNION ALL (SELECT ${COLUMNS} FROM outbox
       WHERE ${open} AND dispatched_at <= now() - $2::double precision * interval '1 millisecond' ORDER BY id LIMIT $1)
     ORDER BY id`;
  }
  const records = await db.query<OutboxRecord>(sql, params);
  return records.map(toRow);
}

/** One row handed to the queues, with the ids of the jobs it was given. */
export interface Dispatched {
  readonly id: number;
  readonly jobIds: readonly string[];
}

/**
 * Records that these rows were handed to the queues now, under these job ids. Called before
 * the jobs are added, so a crash in between leaves ids that Redis lacks, which the relay's
 * sweep finds missing and dispatches again.
 */
export async function markDispatched(db: DeploymentDb, rows: readonly Dispatched[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `UPDATE outbox o SET dispatched_at = now(), job_ids = d.job_ids
     FROM (SELECT (e->>'id')::bigint AS id, e->'jobIds' AS job_ids FROM jsonb_array_elements($1::jsonb) e) d
     WHERE o.id = d.id`,
    [jsonParam(rows)],
  );
}

/**
 * Records that the job finished, by the row's key as the job carries it; the row is never
 * dispatched again. Only a processor calls this, with the work done (the EHR's answer in
 * hand): nothing completes a row from a job's state in Redis. False for a key this database
 * does not hold.
 */
export async function markCompleted(db: TenantDb, key: string): Promise<boolean> {
  const rows = await db.query('UPDATE outbox SET completed_at = COALESCE(completed_at, now()) WHERE key = $1::uuid RETURNING id', [key]);
  return rows.length > 0;
}

/**
 * markCompleted for the job's own row and completeOutboxRows for the rows its work covered,
 * in one statement: `held` is whether this database holds the key, `alsoCompleted` how many
 * of the others were still open.
 */
export async function markCompletedWithCovered(
  db: TenantDb,
  key: string,
  covered: readonly number[],
): Promise<{ held: boolean; alsoCompleted: number }> {
  const rows = await db.query<{ own: boolean }>(
    `UPDATE outbox SET completed_at = COALESCE(completed_at, now())
     WHERE key = $1::uuid OR (id = ANY($2::bigint[]) AND completed_at IS NULL)
     RETURNING key = $1::uuid AS own`,
    [key, covered.map(String)],
  );
  return { held: rows.some((r) => r.own), alsoCompleted: rows.filter((r) => !r.own).length };
}

/**
 * Counts a failed attempt of the row's work (by the key its jobs carry) and keeps its error,
 * for the operators' dead-letter view; a completed row is left alone. The row stays
 * dispatched: the queue retries on its own, and the relay's sweep catches a job it gave up on.
 */
export async function recordFailedAttempt(db: DeploymentDb, key: string, error: string): Promise<void> {
  if (!UUID.test(key)) return;
  await db.query('UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE key = $1::uuid AND completed_at IS NULL', [key, error]);
}

/** The row with this id, or undefined. */
export async function getOutboxMessage(db: EitherDb, id: number): Promise<OutboxRow | undefined> {
  const [record] = await db.query<OutboxRecord>(`SELECT ${COLUMNS} FROM outbox WHERE id = $1`, [id]);
  return record && toRow(record);
}

/** The row with this key (as jobs carry it), or undefined: a key that is not a UUID is no row of ours. */
export async function getOutboxMessageByKey(db: EitherDb, key: string): Promise<OutboxRow | undefined> {
  if (!UUID.test(key)) return undefined;
  const [record] = await db.query<OutboxRecord>(`SELECT ${COLUMNS} FROM outbox WHERE key = $1::uuid`, [key]);
  return record && toRow(record);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The newest row's id, 0 for none: with the Redis fingerprint, tells a database restored from an older backup. */
export async function maxOutboxId(db: DeploymentDb): Promise<number> {
  const [row] = await db.query<{ n: unknown }>('SELECT COALESCE(max(id), 0)::bigint AS n FROM outbox');
  return numberFrom(row?.n ?? 0);
}

/**
 * Forgets every open row's dispatch, so the relay dispatches it again under new job ids:
 * for when the job states in Redis cannot be trusted (another database wrote them, or this
 * one was restored from a backup). Returns how many rows.
 */
export async function forgetDispatches(db: DeploymentDb): Promise<number> {
  const rows = await db.query(
    "UPDATE outbox SET dispatched_at = NULL, job_ids = '[]'::jsonb WHERE completed_at IS NULL AND dead_at IS NULL AND dispatched_at IS NOT NULL RETURNING id",
  );
  return rows.length;
}

/** How many rows are not completed yet (for /ready and metrics). */
export async function countPending(db: DeploymentDb): Promise<number> {
  const [row] = await db.query<{ n: unknown }>('SELECT count(*)::int AS n FROM outbox WHERE completed_at IS NULL');
  return numberFrom(row?.n ?? 0);
}

/** The queue gave up on this row's job: it becomes a dead letter, kept with its last error. */
export async function markDead(db: EitherDb, id: number, error: string): Promise<void> {
  await db.query('UPDATE outbox SET dead_at = COALESCE(dead_at, now()), last_error = $2 WHERE id = $1 AND completed_at IS NULL', [
    id,
    error,
  ]);
}

/** Dead letters, oldest first. */
export async function listDeadLetters(db: TenantDb, opts: { limit: number; offset?: number }): Promise<OutboxRow[]> {
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
export async function redriveDeadLetter(db: TenantDb, id: number): Promise<OutboxRow | undefined> {
  const [record] = await db.query<OutboxRecord>(
    `UPDATE outbox SET dead_at = NULL, dispatched_at = NULL, attempts = 0, job_ids = '[]'::jsonb
     WHERE id = $1 AND dead_at IS NOT NULL AND completed_at IS NULL RETURNING ${COLUMNS}`,
    [id],
  );
  return record && toRow(record);
}

/** Oldest pending row's age in seconds (sync lag for metrics), 0 when nothing is pending. */
export async function oldestPendingAgeSeconds(db: DeploymentDb, topic?: string): Promise<number> {
  const [row] = await db.query<{ age: unknown }>(
    `SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS age FROM outbox
     WHERE completed_at IS NULL AND dead_at IS NULL AND ($1::text IS NULL OR topic = $1)`,
    [topic ?? null],
  );
  return Number(row?.age ?? 0);
}

/**
 * Completes the open rows of `topic` whose payload `key` is one of `values`, and returns
 * them (with the job ids to remove): when a follow-up is done or cancelled, its timers have
 * nothing left to do.
 */
export async function completeOutboxMatching(db: TenantDb, topic: string, key: string, values: readonly string[]): Promise<OutboxRow[]> {
  if (values.length === 0) return [];
  const records = await db.query<OutboxRecord>(
    `UPDATE outbox SET completed_at = now()
     WHERE topic = $1 AND completed_at IS NULL AND $3::jsonb ? (payload->>$2)
     RETURNING ${COLUMNS}`,
    [topic, key, JSON.stringify(values)],
  );
  return records.map(toRow);
}

/**
 * The open (neither completed nor dead) rows of `topic` for a patient, as committed now:
 * their data was committed with them, so a read of the patient's data after this one sees it.
 */
export async function listOpenOutboxIds(
  db: TenantDb,
  topic: string,
  patientId: string,
  payload?: { readonly field: string; readonly value: string },
): Promise<number[]> {
  // `payload` narrows to the rows of one thing of the patient's (e.g. one course).
  const rows = await db.query<{ id: unknown }>(
    payload
      ? 'SELECT id FROM outbox WHERE topic = $1 AND patient_id = $2 AND completed_at IS NULL AND dead_at IS NULL AND payload->>$3 = $4 ORDER BY id'
      : 'SELECT id FROM outbox WHERE topic = $1 AND patient_id = $2 AND completed_at IS NULL AND dead_at IS NULL ORDER BY id',
    payload ? [topic, patientId, payload.field, payload.value] : [topic, patientId],
  );
  return rows.map((r) => numberFrom(r.id));
}

/** Completes these rows (their work was done by another row's job); returns how many were still open. */
export async function completeOutboxRows(db: TenantDb, ids: readonly number[]): Promise<number> {
  if (ids.length === 0) return 0;
  const rows = await db.query('UPDATE outbox SET completed_at = now() WHERE id = ANY($1::bigint[]) AND completed_at IS NULL RETURNING id', [
    ids.map(String),
  ]);
  return rows.length;
}

/** The channel new outbox rows are announced on, with their schema as the payload. */
const OUTBOX_CHANNEL = 'kap_outbox';

/**
 * Calls `onWork` soon after a transaction that added outbox rows to this database commits,
 * so the relay need not wait for its next poll. Resolves to the function that stops it.
 */
export async function onOutboxWork(db: DeploymentDb, onWork: () => void): Promise<() => Promise<void>> {
  const [row] = await db.query<{ schema: string }>('SELECT current_schema() AS schema');
  const schema = row?.schema;
  return db.listen(OUTBOX_CHANNEL, (payload) => {
    if (payload === schema) onWork();
  });
}
