/**
 * Ordered, append-only schema migrations. A released migration is never edited: change the
 * schema by appending a new one. The same SQL runs on PostgreSQL and PGlite.
 */
import type { DeploymentDb } from './db';
import { MIGRATIONS, type Migration } from './migration-list';
import { assertSchemaName } from './schema-name';

export { MIGRATIONS, type Migration };

/** Advisory-lock class for migrations ("KAP" in ASCII), paired with a hash of the schema name. */
const MIGRATION_LOCK_CLASS = 0x4b4150;

export interface MigrateOptions {
  /** The schema the tables belong in; created under the lock if missing. */
  schema?: string;
  /** The migrations to apply; the built-in list by default (tests pass their own). */
  migrations?: readonly Migration[];
}

/**
 * Applies every migration not yet recorded in `schema_migrations`, in one transaction
 * under a transaction-scoped advisory lock, so two processes starting together apply each
 * migration once: the second waits, then finds them recorded. The schema itself is created
 * under the same lock because concurrent `CREATE SCHEMA IF NOT EXISTS` can still collide.
 * Returns the versions applied by this call.
 */
export async function migrate(db: DeploymentDb, opts: MigrateOptions = {}): Promise<number[]> {
  const migrations = opts.migrations ?? MIGRATIONS;
  assertOrdered(migrations);
  if (opts.schema !== undefined) assertSchemaName(opts.schema);
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1::int, $2::int)', [MIGRATION_LOCK_CLASS, hash32(opts.schema ?? 'public')]);
    if (opts.schema) await tx.query(`CREATE SCHEMA IF NOT EXISTS ${opts.schema}`);
    await tx.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const rows = await tx.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((row) => Number(row.version)));
    const applied: number[] = [];
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      for (const statement of migration.statements) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      applied.push(migration.version);
    }
    // What a restore may have dropped (roles, grants) is made right again at every start.
    for (const migration of migrations) {
      for (const statement of migration.everyStart ?? []) await tx.query(statement);
    }
    return applied;
  });
}

function assertOrdered(migrations: readonly Migration[]): void {
  migrations.forEach((migration, index) => {
    const previous = migrations[index - 1];
    if (previous && previous.version >= migration.version) {
      throw new Error(`Migrations out of order: ${previous.version} before ${migration.version}`);
    }
  });
}

/** FNV-1a, folded into a signed 32-bit integer as pg_advisory_xact_lock(int, int) wants. */
function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}
