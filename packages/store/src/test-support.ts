/**
 * Test-only helpers (not exported from the package): each test file gets its own schema on
 * the real PostgreSQL server, dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import type { DeploymentDb } from './db';
import { openDatabase } from './open-database';
import { forTenant, type TenantDb } from './tenant';

/** The server the integration tests use; TEST_DATABASE_URL overrides the local default. */
export const TEST_DATABASE_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh, unique schema name for one test file. */
export function uniqueSchema(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

export interface TestDb {
  /** The default tenant's handle: what the repositories take. */
  db: TenantDb;
  /** The deployment's handle: the relay's and the metrics' functions, and raw checks across tenants. */
  deployment: DeploymentDb;
  schema: string;
  /** Drops the schema and closes the pool. */
  cleanup(): Promise<void>;
}

/** Opens (and migrates) a unique schema for one test file. */
export async function openTestDb(prefix: string, poolSize = 12): Promise<TestDb> {
  const schema = uniqueSchema(prefix);
  const db = await openDatabase({ url: TEST_DATABASE_URL, schema, poolSize });
  return {
    db: forTenant(db, 'default'),
    deployment: db,
    schema,
    async cleanup() {
      try {
        await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await db.close();
      }
    },
  };
}
