import type { Db, TransactionOptions } from './db';
import { TENANT_ROLE } from './migration-list';

/**
 * Opens a tenant's view in the current transaction: its role is not the tables' owner nor a
 * superuser, so row-level security applies, and the policies compare each row's tenant_id
 * with `kap.tenant`. Both settings are transaction-local, so a pooled connection goes back to
 * the pool unscoped; PostgreSQL gets them with BEGIN, in one round trip.
 */
const scopeSettings = (tenantId: string): Record<string, string> => ({ 'kap.tenant': tenantId, role: TENANT_ROLE });

const TENANT = Symbol('kap.tenant');

interface TenantDb extends Db {
  readonly [TENANT]: string;
}

/** The tenant a handle from `forTenant` is scoped to; undefined for the deployment's unscoped handle. */
export function tenantOf(db: Db): string | undefined {
  return (db as Partial<TenantDb>)[TENANT];
}

/**
 * The database as one tenant sees it. Every read and write of a tenant's data goes through
 * the handle this returns; the unscoped handle is for the deployment's own machinery
 * (migrations, the outbox relay, sweeps, metrics). PostgreSQL enforces the scope (row-level
 * security, migration 11): a query that forgets the tenant finds no other tenant's rows, and
 * a row written for another tenant is refused. Each query outside a transaction runs in one
 * of its own. Given a transaction handle, the rest of that transaction is the tenant's.
 */
export function forTenant(db: Db, tenantId: string): Db {
  if (typeof tenantId !== 'string' || tenantId.length === 0) throw new Error('forTenant needs a tenant id');
  const scoped = tenantOf(db);
  if (scoped !== undefined) {
    if (scoped === tenantId) return db;
    throw new Error('This handle is already scoped to another tenant');
  }
  const transaction = <T>(fn: (tx: Db) => Promise<T>, options?: TransactionOptions): Promise<T> =>
    db.transaction((tx) => fn(scopedTransaction(tx, tenantId)), { settings: { ...options?.settings, ...scopeSettings(tenantId) } });
  const view: TenantDb = {
    [TENANT]: tenantId,
    kind: db.kind,
    query: <T>(sql: string, params?: unknown[]) => transaction((tx) => tx.query<T>(sql, params)),
    transaction,
    ping: () => db.ping(),
    listen: (channel, onNotify) => db.listen(channel, onNotify),
    async close() {
      throw new Error("Close the database, not a tenant's view of it");
    },
  };
  return view;
}

/** A transaction already scoped: its queries run as they are, and nested transactions reuse it. */
function scopedTransaction(tx: Db, tenantId: string): Db {
  const view: TenantDb = {
    [TENANT]: tenantId,
    kind: tx.kind,
    query: <T>(sql: string, params?: unknown[]) => tx.query<T>(sql, params),
    transaction: <T>(fn: (inner: Db) => Promise<T>, options?: TransactionOptions) => tx.transaction(() => fn(view), options),
    ping: () => tx.ping(),
    listen: (channel, onNotify) => tx.listen(channel, onNotify),
    close: () => tx.close(),
  };
  return view;
}
