/**
 * The deployment's own audit record: what happened to no tenant in particular, such as a
 * refused token (unverified, so whatever tenant it names cannot be trusted). Counted per
 * minute by client, address and reason, so a flood of refusals adds to counts, not rows.
 * Read and written only through the deployment's handle: the tenant role has no grant on it.
 */
import type { DeploymentDb } from './db';
import { isoFrom, numberFrom } from './sql-values';

export interface DeploymentAuditCount {
  /** The start of the minute counted. */
  readonly windowStart: string;
  /** What happened, e.g. `token-refused`. */
  readonly kind: string;
  /** The client the record names, as the caller claimed it (unverified); '' when none. */
  readonly clientId: string;
  /** The caller's network address; '' when unknown. */
  readonly address: string;
  readonly reason: string;
  readonly count: number;
  readonly firstAt: string;
  readonly lastAt: string;
}

/** Adds counts: a key already stored for its minute has the count added and its times widened. */
export async function addDeploymentAuditCounts(db: DeploymentDb, counts: readonly DeploymentAuditCount[]): Promise<void> {
  for (const c of counts) {
    await db.query(
      `INSERT INTO deployment_audit (window_start, kind, client_id, address, reason, count, first_at, last_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (window_start, kind, client_id, address, reason) DO UPDATE SET
         count = deployment_audit.count + EXCLUDED.count,
         first_at = LEAST(deployment_audit.first_at, EXCLUDED.first_at),
         last_at = GREATEST(deployment_audit.last_at, EXCLUDED.last_at)`,
      [c.windowStart, c.kind, c.clientId, c.address, c.reason, c.count, c.firstAt, c.lastAt],
    );
  }
}

/** The latest counts, newest first. */
export async function listDeploymentAudit(
  db: DeploymentDb,
  options: { readonly count: number; readonly kind?: string },
): Promise<DeploymentAuditCount[]> {
  const params: unknown[] = [];
  let filter = '';
  if (options.kind !== undefined) {
    params.push(options.kind);
    filter = 'WHERE kind = $1';
  }
  const rows = await db.query<Record<string, unknown>>(
    `SELECT window_start, kind, client_id, address, reason, count, first_at, last_at FROM deployment_audit ${filter}
     ORDER BY last_at DESC, window_start DESC, client_id, address, reason LIMIT ${Math.max(Math.trunc(options.count), 0)}`,
    params,
  );
  return rows.map((r) => ({
    windowStart: isoFrom(r.window_start),
    kind: String(r.kind),
    clientId: String(r.client_id),
    address: String(r.address),
    reason: String(r.reason),
    count: numberFrom(r.count),
    firstAt: isoFrom(r.first_at),
    lastAt: isoFrom(r.last_at),
  }));
}
