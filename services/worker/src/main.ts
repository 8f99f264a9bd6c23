import { runDatabaseService } from '@kap/runtime';
import { startWorker } from './worker';

/** The worker as its own process, scaled apart from the API; the only file here that reads `process.env`. */
void runDatabaseService({
  name: 'worker',
  // Jobs in flight finish first: an EHR write may take its whole timeout, and a few retries.
  shutdownTimeoutMs: 30_000,
  start: async ({ config, tenants }, db, lifecycle, logger) => {
    const worker = await startWorker(config, db, logger, tenants);
    lifecycle.onStop('worker', () => worker.close());
  },
});
