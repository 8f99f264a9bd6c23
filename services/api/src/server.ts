import type { Server } from 'node:http';
import { ehrBaseUrl, type Config } from '@kap/config';
import { screeningRulesFromSettings } from '@kap/domain';
import { checkOwnership, createQueues, producerConnection, queuePrefix as prefixOf } from '@kap/queue';
import { getDeploymentId, maxOutboxId, type Db } from '@kap/store';
import type { Logger } from 'pino';
import { createApp } from './app';
import { createApiServer } from './http/http-server';
import type { Probe } from './deps';

export interface RunningApi {
  readonly server: Server;
  /** Stops accepting connections, lets requests in flight finish, and closes Redis (not the database). */
  close(): Promise<void>;
}

/** Serves the API on the configured host and port with its Redis and EHR probes. */
export async function startApi(config: Config, db: Db, logger: Logger): Promise<RunningApi> {
  if (config.NODE_ENV === 'production' && !config.API_TOKENS && !config.API_ADMIN_TOKENS) {
    logger.warn('API_TOKENS is not set: the API accepts unauthenticated requests; keep it on a trusted network only');
  }
  const rules = screeningRulesFromSettings({
    systolicAbove: config.SCREENING_BP_SYSTOLIC_ABOVE,
    diastolicAbove: config.SCREENING_BP_DIASTOLIC_ABOVE,
    severityOverrides: config.SCREENING_SEVERITY_OVERRIDES ? JSON.parse(config.SCREENING_SEVERITY_OVERRIDES) : undefined,
  });
  // Fails fast instead of queueing commands while Redis is away: callers get 503 at once.
  const redis = producerConnection(config.REDIS_URL, { lazyConnect: true });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection problem'));
  await redis.connect().catch((err: Error) => logger.warn({ err: err.message }, 'redis not reachable at start'));

  // Commands that arrive together share one ping: its answer is at most one round trip old.
  let pingInFlight: Promise<void> | undefined;
  const pingRedis = (): Promise<void> =>
    (pingInFlight ??= withTimeout(redis.ping(), 500, 'Redis did not answer within 500 ms')
      .then(() => undefined)
      .finally(() => {
        pingInFlight = undefined;
      }));
  const ehrUrl = ehrBaseUrl(config);
  // The deployment id never changes for a database: read once, for the prefix and every readiness check.
  const deploymentId = await getDeploymentId(db);
  const queuePrefix = prefixOf(config.QUEUE_PREFIX, deploymentId);
  const probes: Probe[] = [
    { name: 'redis', critical: true, check: pingRedis },
    // Reported: a worker that finds Redis's job states not this database's dispatches everything anew, which clears it.
    {
      name: 'redis-ownership',
      critical: false,
      check: async () => {
        const verdict = await withTimeout(checkOwnership(redis, queuePrefix, { deploymentId, outboxHighWater: await maxOutboxId(db) }), 500, 'Redis did not answer within 500 ms');
        if (verdict.status === 'foreign' || verdict.status === 'rewound') throw new Error(verdict.detail);
      },
    },
    // Reported, not required: accepted data waits in the outbox while the EHR is away.
    { name: 'ehr', critical: false, check: () => reachable(`${ehrUrl}/metadata`) },
  ];
  // A separate connection for the dashboard and metrics, so their reads never wait behind commands.
  const queues = createQueues(producerConnection(config.REDIS_URL, { enableOfflineQueue: true, maxRetriesPerRequest: 1 }), queuePrefix);
  const app = createApp({ config, db, rules, logger, probes, queueCheck: pingRedis, queues });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = createApiServer(app, config, logger);
    s.once('error', reject);
    s.listen(config.PORT, config.HOST, () => resolve(s));
  });
  logger.info({ url: `http://${config.HOST}:${config.PORT}`, database: db.kind, queuePrefix }, 'api listening');
  return {
    server,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await queues.close();
      redis.disconnect();
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function reachable(url: string): Promise<void> {
  const res = await fetch(url, { headers: { Accept: 'application/fhir+json' }, signal: AbortSignal.timeout(2000) });
  await res.body?.cancel();
  // Any answer short of a server error, even 401 from a protected EHR, shows it is there.
  if (res.status >= 500) throw new Error(`EHR answered ${res.status}`);
}
