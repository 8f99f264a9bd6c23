/**
 * Stored responses for the `Idempotency-Key` header (docs/api.md#idempotency: the same key and body within
 * 24 hours returns the first response, byte for byte; another body, or another endpoint, is
 * 409; concurrent requests with one key give one result).
 *
 * A command claims its key as the first write of its transaction and fills in the
 * response as the last. The claim is a row lock on the key: a concurrent request with the
 * same key waits at its own claim until the first commits (then replays its response) or
 * rolls back (then runs). So the loser never runs its handler against the winner's
 * committed work, which would answer "already done" instead of the replay.
 */
import type { TenantDb } from './tenant';
import { SCOPED_TENANT } from './migration-list';
import { jsonParam, numberFrom, type JsonValue } from './sql-values';
import type { WriteStatement } from './write-together';

/** How long a key holds its response. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

export interface IdempotentResponse {
  /** Hash of the request body (and whatever else the caller deems part of "the same request"). */
  requestHash: string;
  status: number;
  body: JsonValue;
  /** The endpoint (`POST /v1/courses`) the key was used on; null for rows written before it was kept. */
  endpoint?: string | null;
  /** The response body exactly as sent; null for rows written before it was kept. */
  response?: string | null;
  /** Response headers that are part of the answer (Location), not of one delivery. */
  headers?: Readonly<Record<string, string>> | null;
}

export interface SaveIdempotentResponse extends IdempotentResponse {
  /** Whose keys these are (the caller), so keys of different callers never meet. */
  scope: string;
  key: string;
}

export interface IdempotencyClaim {
  scope: string;
  key: string;
  requestHash: string;
  endpoint: string;
}

/**
 * Thrown when the key is already taken: a concurrent request with the same key committed
 * first. The caller rolls back its work and replays the stored response (or answers 409
 * if the request differs).
 */
export class IdempotencyKeyTaken extends Error {
  constructor(
    readonly scope: string,
    readonly key: string,
  ) {
    super('Idempotency key is already used in this scope');
    this.name = 'IdempotencyKeyTaken';
  }
}

const TTL = `$3::double precision * interval '1 millisecond'`;

/** The response saved under this key within the last 24 hours, or undefined. Claims not yet completed are not responses. */
export async function findIdempotentResponse(db: TenantDb, scope: string, key: string): Promise<IdempotentResponse | undefined> {
  const [row] = await db.query<{
    request_hash: string;
    status: unknown;
    body: JsonValue;
    endpoint: string | null;
    response: string | null;
    headers: Record<string, string> | null;
  }>(
    `SELECT request_hash, status, body, endpoint, response, headers FROM idempotency_keys
     WHERE scope = $1 AND key = $2 AND tenant_id = ${SCOPED_TENANT} AND status > 0 AND created_at > now() - ${TTL}`,
    [scope, key, IDEMPOTENCY_TTL_MS],
  );
  return (
    row && {
      requestHash: row.request_hash,
      status: numberFrom(row.status),
      body: row.body,
      endpoint: row.endpoint ?? null,
      response: row.response ?? null,
      headers: row.headers ?? null,
    }
  );
}

/**
 * Takes the key inside the caller's transaction, before its work. On PostgreSQL a
 * concurrent transaction holding the same key makes this wait for it; then this throws
 * IdempotencyKeyTaken if that one committed, or takes the key if it rolled back. A key
 * older than 24 hours is taken over.
 */
export async function claimIdempotencyKey(tx: TenantDb, claim: IdempotencyClaim): Promise<void> {
  const rows = await tx.query(
    `INSERT INTO idempotency_keys (scope, key, request_hash, status, body, endpoint, response, created_at)
     VALUES ($1, $2, $4, 0, NULL, $5, NULL, now())
     ON CONFLICT (tenant_id, scope, key) DO UPDATE SET
       request_hash = excluded.request_hash, status = 0, body = NULL, endpoint = excluded.endpoint, response = NULL, created_at = now()
     WHERE idempotency_keys.created_at <= now() - ${TTL}
     RETURNING key`,
    [claim.scope, claim.key, IDEMPOTENCY_TTL_MS, claim.requestHash, claim.endpoint],
  );
  if (rows.length === 0) throw new IdempotencyKeyTaken(claim.scope, claim.key);
}

/** Records the response of a claimed key, in the transaction that claimed it. `response` is the body as sent. */
export async function completeIdempotencyKey(
  tx: TenantDb,
  done: { scope: string; key: string; status: number; body: JsonValue; response: string; headers?: Readonly<Record<string, string>> },
): Promise<void> {
  const { sql, params, failure } = idempotencyCompletion(done);
  const rows = await tx.query(sql, [...params]);
  if (rows.length === 0) throw new Error(failure);
}

/** completeIdempotencyKey as a statement, for writeTogether with the command's last writes. */
export function idempotencyCompletion(done: {
  scope: string;
  key: string;
  status: number;
  body: JsonValue;
  response: string;
  headers?: Readonly<Record<string, string>>;
}): WriteStatement {
  return {
    sql: `UPDATE idempotency_keys SET status = $3, body = $4::jsonb, response = $5, headers = $6::jsonb
     WHERE scope = $1 AND key = $2 AND tenant_id = ${SCOPED_TENANT} AND status = 0 RETURNING key`,
    params: [done.scope, done.key, done.status, jsonParam(done.body), done.response, done.headers ? jsonParam(done.headers) : null],
    expectRows: 1,
    failure: 'completeIdempotencyKey: the key was not claimed in this transaction',
  };
}

/**
 * Claims and completes in one step, for work that needs no claim before it. If a live
 * row holds the key, throws IdempotencyKeyTaken; a row older than 24 hours is replaced.
 */
export async function saveIdempotentResponse(db: TenantDb, response: SaveIdempotentResponse): Promise<void> {
  await db.transaction(async (tx) => {
    await claimIdempotencyKey(tx, {
      scope: response.scope,
      key: response.key,
      requestHash: response.requestHash,
      endpoint: response.endpoint ?? '',
    });
    await completeIdempotencyKey(tx, {
      scope: response.scope,
      key: response.key,
      status: response.status,
      body: response.body,
      response: response.response ?? JSON.stringify(response.body),
      ...(response.headers ? { headers: response.headers } : {}),
    });
  });
}

/** Deletes keys older than 24 hours; returns how many. */
export async function purgeExpiredIdempotencyKeys(db: TenantDb): Promise<number> {
  const rows = await db.query(
    `DELETE FROM idempotency_keys WHERE created_at <= now() - $1::double precision * interval '1 millisecond'
     RETURNING key`,
    [IDEMPOTENCY_TTL_MS],
  );
  return rows.length;
}
