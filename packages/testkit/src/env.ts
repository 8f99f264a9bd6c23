import { randomBytes } from 'node:crypto';
import { openDatabase, type DeploymentDb } from '@kap/store';
import { TEST_DATABASE_URL, dropSchema, uniqueSchema } from './postgres';
import { TEST_REDIS_URL } from './stack';

/** A fresh PostgreSQL schema and Redis prefix for one benchmark, and the env a server process needs for them. */
export async function benchSchema(label: string): Promise<{ db: DeploymentDb; env: Record<string, string>; close(): Promise<void> }> {
  const schema = uniqueSchema(`bench_${label}`);
  const prefix = `bench-${label}-${randomBytes(4).toString('hex')}`;
  const db = await openDatabase({ url: TEST_DATABASE_URL, schema });
  return {
    db,
    env: {
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: schema,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      PUBLIC_BASE_URL: 'http://kap.bench',
      LOG_LEVEL: 'warn',
    },
    async close() {
      await db.close();
      await dropSchema(schema);
    },
  };
}
