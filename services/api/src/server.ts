import type { Server } from 'node:http';
import { ehrBaseUrl, openAccessRefusal, singleTenant, type Config, type Tenants } from '@kap/config';
import { checkOwnership, createQueues, producerConnection, queuePrefix as prefixOf } from '@kap/queue';
import { getDeploymentId, maxOutboxId, type DeploymentDb } from '@kap/store';
import type { Logger } from 'pino';
import { createApp, createAuditTrail } from './app';
import { createApiServer } from './http/http-server';
import type { Probe } from './deps';
import { screeningRulesFromConfig } from './http/tenant-settings';

export interface RunningApi {
  readonly server: Server;
  /**
   * Stops accepting connections, lets requests in flight finish, stores the AuditEvents still
   * queued, and closes Redis (not the database, which the caller closes after this).
   */
  close(): Promise<void>;
}

/** Serves the API on the configured host and port with its Redis and EHR probes, for the given tenants. */
export async function startApi(
  config: Config,
  db: DeploymentDb,
  logger: Logger,
  tenants: Tenants = singleTenant(config),
): Promise<RunningApi> {
  const refusal = openAccessRefusal(config);
  if (refusal) throw new Error(refusal);
  if (config.AUTH_MODE === 'none') {
    logger.warn({ host: config.HOST }, 'AUTH_MODE=none: the API is open to anyone on this machine, and listens on loopback only');
  }
  for (const t of tenants.all()) {
    // UTC is a guess about the clinic's calendar: wrong days are refused or recorded without an error.
    if (config.NODE_ENV === 'production' && !t.config.CLINIC_TIME_ZONE) {
      logger.warn(
        { tenant: t.id },
        "CLINIC_TIME_ZONE is not set: clinical days (a course's first day, before its start, 90 days after its stop) are taken in UTC",
      );
    }
  }
  const rules = screeningRulesFromConfig(config);
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
  // Each tenant's EHR, each address once; /ready is public, so tenants are not named there.
  const ehrUrls = [...new Set(tenants.all().map((t) => ehrBaseUrl(t.config)))];
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
        const verdict = await withTimeout(
          checkOwnership(redis, queuePrefix, { deploymentId, outboxHighWater: await maxOutboxId(db) }),
          500,
          'Redis did not answer within 500 ms',
        );
        if (verdict.status === 'foreign' || verdict.status === 'rewound') throw new Error(verdict.detail);
      },
    },
    // Reported, not required: accepted data waits in the outbox while the EHR is away.
    { name: 'ehr', critical: false, check: async () => void (await Promise.all(ehrUrls.map((url) => reachable(`${url}/metadata`)))) },
  ];
  // A separate connection for the dashboard and metrics, so their reads never wait behind commands.
  const queues = createQueues(producerConnection(config.REDIS_URL, { enableOfflineQueue: true, maxRetriesPerRequest: 1 }), queuePrefix);
  const audit = createAuditTrail({ config, db, rules, tenants, logger });
  // Rate-limit counters on the commands' connection: every replica counts against one budget per client.
  const app = createApp({
    config,
    db,
    rules,
    tenants,
    logger,
    probes,
    queueCheck: pingRedis,
    queues,
    audit,
    rateLimits: { redis, prefix: `${queuePrefix}:rate` },
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = createApiServer(app, config, logger);
    s.once('error', reject);
    s.listen(config.PORT, config.HOST, () => resolve(s));
  });
  logger.info({ url: `http://${config.HOST}:${config.PORT}`, database: db.kind, queuePrefix, tenants: tenants.ids }, 'api listening');
  return {
    server,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await audit.close();
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
