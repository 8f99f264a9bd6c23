import { hostname } from 'node:os';
import { ehrBaseUrl, type Config } from '@kap/config';
import { createEhrClient, ehrAuthFromSettings } from '@kap/ehr-client';
import { adoptRedis, checkEvictionPolicy, createQueues, resolveQueuePrefix, workerConnection } from '@kap/queue';
import type { Db } from '@kap/store';
import type { Logger } from 'pino';
import { serveMetrics } from './metrics';
import { startWorkerRuntime } from './runtime';

export interface RunningWorker {
  /** Finishes in-flight jobs (or returns them to the queue), stops the relay, closes Redis (not the database). */
  close(): Promise<void>;
}

/**
 * Connects to Redis (refusing an evicting one) under the deployment's own prefix, adopts it
 * (see `adoptRedis`), connects the EHR, and starts the relay and the queue workers.
 */
export async function startWorker(config: Config, db: Db, logger: Logger): Promise<RunningWorker> {
  const redis = workerConnection(config.REDIS_URL);
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection problem'));
  await checkEvictionPolicy(redis);
  const ehr = createEhrClient({ baseUrl: ehrBaseUrl(config), auth: ehrAuthFromSettings(config), timeoutMs: config.EHR_TIMEOUT_MS });
  const queuePrefix = await resolveQueuePrefix(db, config.QUEUE_PREFIX);
  await adoptRedis(db, redis, queuePrefix, logger);
  const queues = createQueues(redis, queuePrefix);
  const workerId = config.WORKER_ID ?? `${hostname()}-${process.pid}`;
  const runtime = startWorkerRuntime({ config, db, ehr, queues, queuePrefix, redis, logger, workerId }, redis);
  const metrics = config.METRICS_PORT ? await serveMetrics(config.METRICS_PORT) : undefined;
  logger.info({ ehr: ehrBaseUrl(config), database: db.kind, workerId, queuePrefix, metricsPort: config.METRICS_PORT }, 'worker running');
  return {
    async close() {
      metrics?.close();
      await runtime.close();
      await queues.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
