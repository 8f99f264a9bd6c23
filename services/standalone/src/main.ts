import { startApi } from '@kap/api';
import { sandboxPolicyFromEnv, startSandbox } from '@kap/ehr-sandbox';
import { startConfiguredMllp } from '@kap/mllp';
import { loadProcessSettings, runDatabaseService } from '@kap/runtime';
import { startWorker } from '@kap/worker';

/**
 * The Quick start's one process: the API, the worker, the MLLP listener (with MLLP_PORT)
 * and (with no EHR_BASE_URL) the EHR sandbox. The embedded PostgreSQL (PGlite) is single-process, so with no DATABASE_URL
 * the API and the worker must share this process's one database. In production each
 * service runs on its own against PostgreSQL (docker-compose.yml, infra/).
 * The composition root: the one place a service imports the others.
 */
void runDatabaseService({
  name: 'kap',
  settings: (env) => {
    const settings = loadProcessSettings(env, { servesApi: true });
    // The sandbox's settings are checked with the rest, so nothing half-runs on a bad one.
    return { ...settings, sandboxPolicy: settings.config.EHR_BASE_URL ? undefined : sandboxPolicyFromEnv(env) };
  },
  // Its services name themselves on child loggers.
  nameInLogs: false,
  shutdownTimeoutMs: 30_000,
  start: async ({ config, tenants, sandboxPolicy }, db, lifecycle, logger) => {
    if (sandboxPolicy) {
      const sandbox = await startSandbox({ port: config.EHR_SANDBOX_PORT, host: '127.0.0.1', ...sandboxPolicy });
      lifecycle.onStop('ehr sandbox', () => sandbox.close());
      logger.info({ url: sandbox.url, profile: sandbox.sandbox.policy.profile }, 'ehr sandbox listening');
    }
    const worker = await startWorker(config, db, logger.child({ service: 'worker' }), tenants);
    lifecycle.onStop('worker', () => worker.close());
    const api = await startApi(config, db, logger.child({ service: 'api' }), tenants);
    lifecycle.onStop('api', () => api.close());
    // The MLLP listener stores into this process's database, where the worker picks messages up.
    const mllp = await startConfiguredMllp(config, db, logger.child({ service: 'mllp' }), tenants);
    if (mllp) lifecycle.onStop('mllp listener', () => mllp.close());
  },
});
