import { databaseOptions } from '@kap/config';
import { loadProcessSettings, runService } from '@kap/runtime';
import { openDatabase } from '@kap/store';
import pino from 'pino';
import { startApi } from './server';

/** The API as its own process (compose, Kubernetes); the only file here that reads `process.env`. */
void runService({
  name: 'api',
  settings: (env) => loadProcessSettings(env, { servesApi: true }),
  logger: ({ config }) => pino({ level: config.LOG_LEVEL, base: { service: 'api' } }),
  shutdownTimeoutMs: 10_000,
  start: async ({ config, tenants }, lifecycle, logger) => {
    const db = await openDatabase(databaseOptions(config));
    lifecycle.onStop('database', () => db.close());
    const api = await startApi(config, db, logger, tenants);
    lifecycle.onStop('api', () => api.close());
  },
});
