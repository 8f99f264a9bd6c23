import { readFileSync } from 'node:fs';
import { databaseOptions, loadConfig, loadTenants } from '@kap/config';
import { openDatabase } from '@kap/store';
import pino from 'pino';
import { startWorker } from './worker';

/** The worker as its own process, scaled apart from the API; the only file here that reads `process.env`. */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  // The tenants file is read here, at the edge; parsing and checking it is @kap/config's.
  const tenants = loadTenants(process.env, config.TENANTS_FILE ? { path: config.TENANTS_FILE, text: readFileSync(config.TENANTS_FILE, 'utf8') } : undefined);
  const logger = pino({ level: config.LOG_LEVEL, base: { service: 'worker' } });
  const db = await openDatabase(databaseOptions(config));
  const worker = await startWorker(config, db, logger, tenants);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'worker shutting down: finishing in-flight jobs');
    setTimeout(() => process.exit(1), 30_000).unref();
    void worker
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
