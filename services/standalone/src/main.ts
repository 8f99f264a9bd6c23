import { startApi } from '@kap/api';
import { readFileSync } from 'node:fs';
import { databaseOptions, loadConfig, loadTenants, openAccessRefusal } from '@kap/config';
import { sandboxPolicyFromEnv, startSandbox } from '@kap/ehr-sandbox';
import { startConfiguredMllp } from '@kap/mllp';
import { openDatabase } from '@kap/store';
import { startWorker } from '@kap/worker';
import pino from 'pino';

/**
 * The Quick start's one process: the API, the worker, the MLLP listener (with MLLP_PORT)
 * and (with no EHR_BASE_URL) the EHR sandbox. The embedded PostgreSQL (PGlite) is single-process, so with no DATABASE_URL
 * the API and the worker must share this process's one database. In production each
 * service runs on its own against PostgreSQL (docker-compose.yml, infra/).
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  // The tenants file is read here, at the edge; parsing and checking it is @kap/config's.
  const tenants = loadTenants(process.env, config.TENANTS_FILE ? { path: config.TENANTS_FILE, text: readFileSync(config.TENANTS_FILE, 'utf8') } : undefined);
  const logger = pino({ level: config.LOG_LEVEL });
  // Refused before anything starts, so nothing half-runs on an open network address.
  const refusal = openAccessRefusal(config);
  if (refusal) throw new Error(refusal);
  const sandbox = config.EHR_BASE_URL
    ? undefined
    : await startSandbox({ port: config.EHR_SANDBOX_PORT, host: '127.0.0.1', ...sandboxPolicyFromEnv(process.env) });
  if (sandbox) logger.info({ url: sandbox.url, profile: sandbox.sandbox.policy.profile }, 'ehr sandbox listening');
  const db = await openDatabase(databaseOptions(config));
  const worker = await startWorker(config, db, logger.child({ service: 'worker' }), tenants);
  const api = await startApi(config, db, logger.child({ service: 'api' }), tenants);
  // The MLLP listener stores into this process's database, where the worker picks messages up.
  const mllp = await startConfiguredMllp(config, db, logger.child({ service: 'mllp' }), tenants);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: requests and jobs in flight finish first');
    setTimeout(() => process.exit(1), 30_000).unref();
    void (async () => {
      await mllp?.close();
      await api.close();
      await worker.close();
      await db.close();
      await sandbox?.close();
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
