/**
 * Stored responses for the `Idempotency-Key` header (api.md: the same key and body within
 * 24 hours returns the first response; another body is 409). The response is saved in
 * the same transaction as the work, so a key is taken exactly when the work committed.
 */
import type { Db } from './db';
import { jsonParam, numberFrom, type JsonValue } from './sql-values';

/** How long a key holds its response. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

export interface IdempotentResponse {
  /** Hash of the request body (and whatever else the caller deems part of "the same request"). */
  requestHash: string;
  status: number;
  body: JsonValue;
}

export interface SaveIdempotentResponse extends IdempotentResponse {
  /** Usually the caller (client id) plus method and path, so keys of different callers never meet. */
  scope: string;
  key: string;
}

/**
 * Thrown by saveIdempotentResponse when the key is already taken: a concurrent request
 * with the same key committed first. The caller rolls back its work and replays the
 * stored response (or answers 409 if the request hash differs).
 */
export class IdempotencyKeyTaken extends Error {
  constructor(
    readonly scope: string,
    readonly key: string,
  ) {
    super(`Idempotency key "${key}" is already used in scope "${scope}"`);
    this.name = 'IdempotencyKeyTaken';
  }
}

/** The response saved under this key within the last 24 hours, or undefined. */
export async function findIdempotentResponse(
  db: Db,
  scope: string,
  key: string,
): Promise<IdempotentResponse | undefined> {
  const [row] = await db.query<{ request_hash: string; status: unknown; body: JsonValue }>(
    `SELECT request_hash, status, body FROM idempotency_keys
     WHERE scope = $1 AND key = $2 AND created_at > now() - $3::double precision * interval '1 millisecond'`,
    [scope, key, IDEMPOTENCY_TTL_MS],
  );
  return row && { requestHash: row.request_hash, status: numberFrom(row.status), body: row.body };
}

/**
 * Saves the response under its key. If a live row holds the key, throws
 * IdempotencyKeyTaken; on PostgreSQL a concurrent uncommitted save makes this wait for
 * that transaction, then throw if it committed or succeed if it rolled back. A row older
 * than 24 hours is replaced.
 */
export async function saveIdempotentResponse(db: Db, response: SaveIdempotentResponse): Promise<void> {
  const rows = await db.query(
    `INSERT INTO idempotency_keys (scope, key, request_hash, status, body, created_at)
     VALUES ($1, $2, $3, $4, $5::jsonb, now())
     ON CONFLICT (scope, key) DO UPDATE SET
       request_hash = excluded.request_hash, status = excluded.status, body = excluded.body, created_at = now()
     WHERE idempotency_keys.created_at <= now() - $6::double precision * interval '1 millisecond'
     RETURNING key`,
    [response.scope, response.key, response.requestHash, response.status, jsonParam(response.body), IDEMPOTENCY_TTL_MS],
  );
  if (rows.length === 0) throw new IdempotencyKeyTaken(response.scope, response.key);
}

/** Deletes keys older than 24 hours; returns how many. */
export async function purgeExpiredIdempotencyKeys(db: Db): Promise<number> {
  const rows = await db.query(
    `DELETE FROM idempotency_keys WHERE created_at <= now() - $1::double precision * interval '1 millisecond'
     RETURNING key`,
    [IDEMPOTENCY_TTL_MS],
  );
  return rows.length;
}
