import { resolve } from 'node:path';
import { loadConfig } from '@kap/config';
import { screeningRulesFromSettings } from '@kap/domain';
import { openDatabase } from '@kap/store';
import { Redis } from 'ioredis';
import pino from 'pino';
import { createApp } from './app';
import type { Probe } from './deps';

/** Wires the API from the environment and serves it; the only file here that reads `process.env`. */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = pino({ level: config.LOG_LEVEL, base: { service: 'api' } });
  const rules = screeningRulesFromSettings({
    systolicAbove: config.SCREENING_BP_SYSTOLIC_ABOVE,
    diastolicAbove: config.SCREENING_BP_DIASTOLIC_ABOVE,
    severityOverrides: config.SCREENING_SEVERITY_OVERRIDES ? JSON.parse(config.SCREENING_SEVERITY_OVERRIDES) : undefined,
  });
  const db = await openDatabase(
    config.DATABASE_URL ? { url: config.DATABASE_URL } : { dataDir: resolve(config.DATA_DIR, 'postgres') },
  );
  // Fail fast instead of queueing commands while Redis is away: callers get 503 at once.
  const redis = new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection problem'));
  await redis.connect().catch((err: Error) => logger.warn({ err: err.message }, 'redis not reachable at start'));

  const probes: Probe[] = [{ name: 'redis', critical: true, check: async () => void (await redis.ping()) }];
  const app = createApp({ config, db, rules, logger, probes });
  const server = app.listen(config.PORT, config.HOST, () => {
    logger.info({ url: `http://${config.HOST}:${config.PORT}`, database: db.kind }, 'api listening');
  });

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'api shutting down');
    server.close(() => {
      void Promise.allSettled([redis.quit(), db.close()]).then(() => process.exit(0));
    });
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
