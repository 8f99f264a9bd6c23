/**
 * Opening the store: the engine a deployment's settings name, migrated before anyone uses it.
 * Apart from db.ts (the handle's types) so the engines and migrations, which need those
 * types, are not imported by them in a circle.
 */
import type { DeploymentDb } from './db';
import { migrate } from './migrations';
import { openPgliteDb } from './pglite-db';
import { openPostgresDb } from './postgres-db';
import { assertSchemaName } from './schema-name';

export interface OpenDatabaseOptions {
  /** A PostgreSQL connection string; without it the embedded PGlite is used. */
  url?: string;
  /** PGlite's data directory; in memory when undefined. Ignored with `url`. */
  dataDir?: string;
  /** Schema to hold every table (created if missing); PostgreSQL's default search_path otherwise. */
  schema?: string;
  /** Maximum pooled PostgreSQL connections (default 10). */
  poolSize?: number;
  /**
   * Called when an idle pooled connection fails (for example the server restarted). The
   * pool drops that connection either way; without a handler the error is ignored, because
   * the next query reports the outage to whoever asked.
   */
  onPoolError?: (error: Error) => void;
}

/**
 * With `url`, PostgreSQL through a pg Pool (search_path set to `schema` if given, schema
 * created if missing); otherwise PGlite at `dataDir` (in memory when undefined). Runs
 * migrations before returning.
 */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<DeploymentDb> {
  if (opts.schema !== undefined) assertSchemaName(opts.schema);
  const db = opts.url
    ? openPostgresDb({ url: opts.url, schema: opts.schema, poolSize: opts.poolSize, onPoolError: opts.onPoolError })
    : await openPgliteDb({ dataDir: opts.dataDir, schema: opts.schema });
  try {
    await migrate(db, { schema: opts.schema });
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
  return db;
}
