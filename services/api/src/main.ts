import { runDatabaseService } from '@kap/runtime';
import { startApi } from './server';

/** The API as its own process (compose, Kubernetes); the only file here that reads `process.env`. */
void runDatabaseService({
  name: 'api',
  servesApi: true,
  shutdownTimeoutMs: 10_000,
  start: async ({ config, tenants }, db, lifecycle, logger) => {
    const api = await startApi(config, db, logger, tenants);
    lifecycle.onStop('api', () => api.close());
  },
});
