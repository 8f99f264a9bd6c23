import { databaseOptions, loadConfig } from '@kap/config';
import { openDatabase } from '@kap/store';
import pino from 'pino';
import { startWorker } from './worker';

/** The worker as its own process, scaled apart from the API; the only file here that reads `process.env`. */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = pino({ level: config.LOG_LEVEL, base: { service: 'worker' } });
  const db = await openDatabase(databaseOptions(config));
  const worker = await startWorker(config, db, logger);
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
