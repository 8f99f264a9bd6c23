import type { DeploymentDb, SqlHandle, TransactionOptions } from './db';
import { TENANT_ROLE } from './migration-list';
import { TENANT } from './tenant-brand';

/**
 * Opens a tenant's view in the current transaction: its role is not the tables' owner nor a
 * superuser, so row-level security applies, and the policies compare each row's tenant_id
 * with `kap.tenant`. Both settings are transaction-local, so a pooled connection goes back to
 * the pool unscoped; PostgreSQL gets them with BEGIN, in one round trip.
 */
const scopeSettings = (tenantId: string): Record<string, string> => ({ 'kap.tenant': tenantId, role: TENANT_ROLE });

/**
 * One tenant's handle, or a transaction on it: made only by `forTenant` (the brand is a
 * symbol no code outside the store can name), so a function that takes one cannot be given
 * the deployment's handle. It carries its tenant; nothing passes a tenant id beside it.
 */
export interface TenantDb extends SqlHandle {
  readonly [TENANT]: string;
  /** As the deployment's, but the transaction is the tenant's too. */
  transaction<T>(fn: (tx: TenantDb) => Promise<T>, options?: TransactionOptions): Promise<T>;
}

/** The tenant a handle is scoped to. */
export function tenantOf(db: TenantDb): string {
  return db[TENANT];
}

/**
 * The database as one tenant sees it. Every read and write of a tenant's data goes through
 * the handle this returns; the deployment's handle is for its own machinery (migrations, the
 * outbox relay, sweeps, metrics). PostgreSQL enforces the scope (row-level security, migration
 * 12): a query that forgets the tenant finds no other tenant's rows, and a row written for
 * another tenant is refused. Each query outside a transaction runs in one of its own. Given a
 * transaction handle, the rest of that transaction is the tenant's.
 */
export function forTenant(db: DeploymentDb, tenantId: string): TenantDb {
  if (typeof tenantId !== 'string' || tenantId.length === 0) throw new Error('forTenant needs a tenant id');
  if (TENANT in db) throw new Error('This handle is already scoped to a tenant');
  const transaction = <T>(fn: (tx: TenantDb) => Promise<T>, options?: TransactionOptions): Promise<T> =>
    db.transaction((tx) => fn(scopedTransaction(tx, tenantId)), { settings: { ...options?.settings, ...scopeSettings(tenantId) } });
  return {
    [TENANT]: tenantId,
    kind: db.kind,
    query: <T>(sql: string, params?: unknown[]) => transaction((tx) => tx.query<T>(sql, params)),
    transaction,
    ping: () => db.ping(),
  };
}

/** A transaction already scoped: its queries run as they are, and nested transactions reuse it. */
function scopedTransaction(tx: DeploymentDb, tenantId: string): TenantDb {
  const view: TenantDb = {
    [TENANT]: tenantId,
    kind: tx.kind,
    query: <T>(sql: string, params?: unknown[]) => tx.query<T>(sql, params),
    transaction: <T>(fn: (inner: TenantDb) => Promise<T>, options?: TransactionOptions) => tx.transaction(() => fn(view), options),
    ping: () => tx.ping(),
  };
  return view;
}
