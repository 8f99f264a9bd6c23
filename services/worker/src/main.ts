import { databaseOptions } from '@kap/config';
import { loadProcessSettings, runService } from '@kap/runtime';
import { openDatabase } from '@kap/store';
import pino from 'pino';
import { startWorker } from './worker';

/** The worker as its own process, scaled apart from the API; the only file here that reads `process.env`. */
void runService({
  name: 'worker',
  settings: (env) => loadProcessSettings(env),
  logger: ({ config }) => pino({ level: config.LOG_LEVEL, base: { service: 'worker' } }),
  // Jobs in flight finish first: an EHR write may take its whole timeout, and a few retries.
  shutdownTimeoutMs: 30_000,
  start: async ({ config, tenants }, lifecycle, logger) => {
    const db = await openDatabase(databaseOptions(config));
    lifecycle.onStop('database', () => db.close());
    const worker = await startWorker(config, db, logger, tenants);
    lifecycle.onStop('worker', () => worker.close());
  },
});
