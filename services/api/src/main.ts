import { readFileSync } from 'node:fs';
import { databaseOptions, loadConfig, loadTenants } from '@kap/config';
import { openDatabase } from '@kap/store';
import pino from 'pino';
import { startApi } from './server';

/** The API as its own process (compose, Kubernetes); the only file here that reads `process.env`. */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  // The tenants file is read here, at the edge; parsing and checking it is @kap/config's.
  const tenants = loadTenants(process.env, config.TENANTS_FILE ? { path: config.TENANTS_FILE, text: readFileSync(config.TENANTS_FILE, 'utf8') } : undefined);
  const logger = pino({ level: config.LOG_LEVEL, base: { service: 'api' } });
  const db = await openDatabase(databaseOptions(config));
  const api = await startApi(config, db, logger, tenants);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'api shutting down');
    setTimeout(() => process.exit(1), 10_000).unref();
    void api
      .close()
      .then(() => db.close())
      .then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
