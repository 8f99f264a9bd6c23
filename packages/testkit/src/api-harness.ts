import { loadConfig, loadTenants, type Config } from '@kap/config';
import { DEFAULT_SCREENING_RULES } from '@kap/domain';
import { openDatabase, type DeploymentDb } from '@kap/store';
import type { Express } from 'express';
import pino, { type Logger } from 'pino';
import { auditTrailOf, createApp, type Probe, type RateLimitRedis } from '@kap/api';
import { TEST_DATABASE_URL, dropSchema, uniqueSchema } from './postgres';

export interface ApiHarness {
  readonly app: Express;
  readonly db: DeploymentDb;
  readonly config: Config;
  close(): Promise<void>;
}

/** The real API on a real PostgreSQL schema of its own; close() drops the schema. */
export async function startApiHarness(
  options: {
    env?: Record<string, string>;
    probes?: Probe[];
    queueCheck?: () => Promise<void>;
    logger?: Logger;
    /** Tenants served besides none: their ids, each on the harness's environment (a tenants file without settings). */
    tenantIds?: readonly string[];
    rateLimits?: RateLimitRedis;
    /** The clock commands read (a test clock), instead of the real one. */
    now?: () => Date;
  } = {},
): Promise<ApiHarness> {
  const schema = uniqueSchema('api');
  const db = await openDatabase({ url: TEST_DATABASE_URL, schema });
  const env = { PUBLIC_BASE_URL: 'http://kap.test', BODY_LIMIT: '64kb', ...options.env };
  const config = loadConfig(env);
  const tenants = options.tenantIds
    ? loadTenants(env, { path: 'tenants.json', text: JSON.stringify({ tenants: options.tenantIds.map((id) => ({ id, env: {} })) }) })
    : undefined;
  const app = createApp({
    config,
    db,
    rules: DEFAULT_SCREENING_RULES,
    logger: options.logger ?? pino({ level: 'silent' }),
    probes: options.probes,
    queueCheck: options.queueCheck,
    ...(tenants ? { tenants } : {}),
    rateLimits: options.rateLimits,
    ...(options.now ? { now: options.now } : {}),
  });
  return {
    app,
    db,
    config,
    async close() {
      await auditTrailOf(app).close();
      await db.close();
      await dropSchema(schema);
    },
  };
}
