import { hostname } from 'node:os';
import { ehrBaseUrl, singleTenant, type Config, type Tenants } from '@kap/config';
import { capabilityCache, decideWriteStrategy, writeSettingsFrom } from '@kap/ehr-client';
import { adoptRedis, checkEvictionPolicy, createQueues, resolveQueuePrefix, workerConnection } from '@kap/queue';
import type { DeploymentDb } from '@kap/store';
import type { Logger } from 'pino';
import { serveMetrics } from './metrics';
import { startWorkerRuntime } from './runtime';
import { tenantWork } from './tenant-work';
import type { WorkerDeps } from './deps';

export interface RunningWorker {
  /** Finishes in-flight jobs (or returns them to the queue), stops the relay, closes Redis (not the database). */
  close(): Promise<void>;
}

/**
 * Connects to Redis (refusing an evicting one) under the deployment's own prefix, adopts it
 * (see `adoptRedis`), and starts the relay and the queue workers. Each tenant's EHR is
 * connected on its first job, with its own token and CapabilityStatement caches.
 */
export async function startWorker(
  config: Config,
  db: DeploymentDb,
  logger: Logger,
  tenants: Tenants = singleTenant(config),
): Promise<RunningWorker> {
  const redis = workerConnection(config.REDIS_URL);
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection problem'));
  await checkEvictionPolicy(redis);
  const queuePrefix = await resolveQueuePrefix(db, config.QUEUE_PREFIX);
  await adoptRedis(db, redis, queuePrefix, logger);
  const queues = createQueues(redis, queuePrefix);
  const workerId = config.WORKER_ID ?? `${hostname()}-${process.pid}`;
  const deps: WorkerDeps = { config, db, tenants, queues, queuePrefix, redis, logger, workerId };
  for (const id of tenants.ids) logCapabilities(deps, id);
  const runtime = startWorkerRuntime(deps, redis);
  const metrics = config.METRICS_PORT ? await serveMetrics(config.METRICS_PORT) : undefined;
  logger.info({ tenants: tenants.ids, database: db.kind, workerId, queuePrefix, metricsPort: config.METRICS_PORT }, 'worker running');
  return {
    async close() {
      metrics?.close();
      await runtime.close();
      await queues.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/**
 * Reads a tenant's EHR CapabilityStatement at start (its jobs share this cached copy,
 * re-read when stale), so a misfit shows in the log before the first patient; an EHR down
 * now is retried by the jobs.
 */
function logCapabilities(deps: WorkerDeps, tenantId: string): void {
  const t = tenantWork(deps, tenantId);
  const settings = writeSettingsFrom(t.config);
  void capabilityCache(t.ehr, settings.capabilitiesRefreshMs)
    .get()
    .then((caps) => {
      const strategy = decideWriteStrategy(caps, settings);
      deps.logger.info(
        { tenant: tenantId, ehr: ehrBaseUrl(t.config), mode: strategy.mode, maxEntries: strategy.maxEntries, warnings: strategy.warnings },
        'EHR capabilities read',
      );
    })
    .catch((err: unknown) =>
      deps.logger.warn({ tenant: tenantId, err: err instanceof Error ? err.message : String(err) }, 'EHR capabilities not readable yet'),
    );
}
