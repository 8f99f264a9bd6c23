import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_TENANT_ID, loadConfig, loadTenants, type Config, type Tenants, type TenantsFileText } from '@kap/config';
import { DEFAULT_SCREENING_RULES } from '@kap/domain';
import type { EhrClient } from '@kap/ehr-client';
import { startSandbox, type RunningSandbox, type SandboxOptions } from '@kap/ehr-sandbox';
import { WORK, adoptRedis, createQueues, producerConnection, resolveQueuePrefix, workerConnection, type Queues } from '@kap/queue';
import { forTenant, openDatabase, type DeploymentDb, type TenantDb } from '@kap/store';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { auditTrailOf, createApp } from '@kap/api';
import { connectEhr, startWorkerRuntime, verifyWebhook, type WorkerRuntime } from '@kap/worker';
import { TEST_DATABASE_URL, dropSchema, uniqueSchema } from './postgres';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const WEBHOOK_SECRET = 'test-secret-not-for-production';

export interface Delivery {
  readonly event: string;
  readonly deliveryId: string;
  readonly signatureValid: boolean;
  readonly body: { resource: { resourceType: string; id: string; meta?: { versionId?: string } } };
}

/** A subscriber on loopback that records each webhook and checks its signature (with `secret`, a tenant's own). */
export async function startWebhookReceiver(
  answer: () => number = () => 204,
  secret = WEBHOOK_SECRET,
): Promise<{ url: string; deliveries: Delivery[]; close(): Promise<void> }> {
  const deliveries: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const status = answer();
      if (status < 300) {
        deliveries.push({
          event: String(req.headers['x-kap-event']),
          deliveryId: String(req.headers['x-kap-delivery']),
          signatureValid: verifyWebhook(secret, body, String(req.headers['x-kap-signature']), Math.floor(Date.now() / 1000)),
          body: JSON.parse(body),
        });
      }
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks`, deliveries, close: () => new Promise((r) => server.close(() => r())) };
}

export interface Stack {
  readonly app: Express;
  /** The deployment's handle: raw checks across tenants, and what the workers are given. */
  readonly db: DeploymentDb;
  /** The default tenant's handle: what the store's functions on its rows take. */
  readonly tenantDb: TenantDb;
  readonly config: Config;
  /** The tenants the API and workers serve: from `tenantsFile`, else the single default tenant. */
  readonly tenants: Tenants;
  readonly sandbox: RunningSandbox;
  readonly queues: Queues;
  readonly redis: Redis;
  /** The worker's EHR client. */
  readonly ehr: EhrClient;
  readonly prefix: string;
  /** The outage switch, when started `behindProxy`. */
  readonly proxy?: TcpProxy;
  /** The environment a worker process needs to join this stack. */
  readonly env: Record<string, string>;
  /** Starts (or restarts) the worker; several may run at once. */
  startWorker(id?: string): WorkerRuntime;
  stopWorkers(): Promise<void>;
  /**
   * Resolves when nothing is left that would run now (EHR syncs, webhooks, timers already due;
   * later timers wait), looked at every `pollMs`, or rejects after `timeoutMs`.
   */
  drained(timeoutMs?: number, pollMs?: number): Promise<void>;
  /** Loses every queued job of this stack, as FLUSHALL would (only this stack's keys: Redis is shared). */
  flushQueues(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The whole service on real parts: the API app and the worker runtime on a fresh
 * PostgreSQL schema, real Redis under a unique BullMQ prefix, and the FHIR sandbox as the
 * EHR over loopback. Timings are shortened through the same settings operators use.
 */
export interface StackOptions {
  behindProxy?: boolean;
  logger?: Logger;
  /** An existing schema (a restored backup, say) instead of a fresh one; it is dropped on close all the same. */
  schema?: string;
  /** The QUEUE_PREFIX base; installs given the same base share it, as operators' installs would. */
  queuePrefixBase?: string;
  /** Another EHR than a fresh sandbox of its own: it is not closed with the stack. */
  sandbox?: RunningSandbox;
  /** Another Redis than TEST_REDIS_URL. */
  redisUrl?: string;
  /** Leave this stack's Redis keys in place on close, as an install that is merely gone would. */
  keepRedisKeys?: boolean;
  /** How strict the stack's own sandbox is (profile, limits, accepted types). */
  sandboxOptions?: SandboxOptions;
  /** The worker's EHR client, for a real EHR instead of the stack's sandbox (its settings in `env` too). */
  ehrClient?: EhrClient;
  /** The worker's EHR fetch, e.g. to record or alter what it sends and reads. */
  ehrFetch?: typeof fetch;
  /** A tenants file (JSON or YAML by its path), laid over the stack's environment as TENANTS_FILE would be. */
  tenantsFile?: TenantsFileText;
  /** The worker's webhook fetch, e.g. to fail a delivery after it was sent, as a crash would. */
  webhookFetch?: typeof fetch;
}

export async function startStack(env: Record<string, string> = {}, options: StackOptions = {}): Promise<Stack> {
  const schema = options.schema ?? uniqueSchema('e2e');
  const prefixBase = options.queuePrefixBase ?? `test-${schema}`;
  const redisUrl = options.redisUrl ?? TEST_REDIS_URL;
  const db = await openDatabase({ url: TEST_DATABASE_URL, schema });
  // The deployment's own prefix, as the worker and API derive it from the database.
  const prefix = await resolveQueuePrefix(db, prefixBase);
  const sandbox = options.sandbox ?? (await startSandbox({ port: 0, ...options.sandboxOptions }));
  const proxy = options.behindProxy ? await startTcpProxy(Number(new URL(sandbox.url).port)) : undefined;
  const ehrUrl = proxy ? sandbox.url.replace(/:\d+\//, `:${proxy.port}/`) : sandbox.url;
  const settings: Record<string, string> = {
    PUBLIC_BASE_URL: 'http://kap.test',
    EHR_BASE_URL: ehrUrl,
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: schema,
    QUEUE_PREFIX: prefixBase,
    JOB_LOCK_MS: '2000',
    SYNC_LEASE_MS: '6000',
    EHR_TIMEOUT_MS: '3000',
    FOLLOW_UP_OFFSETS: 'PT3S,PT6S,PT9S',
    FOLLOW_UP_REMINDER_LEAD: 'PT1S',
    SYNC_BACKOFF_BASE_MS: '100',
    SYNC_BACKOFF_CAP_MS: '1000',
    SYNC_MAX_OUTAGE: 'PT30S',
    RELAY_INTERVAL_MS: '100',
    REDISPATCH_AFTER_MS: '1500',
    WEBHOOK_SECRET,
    ...env,
  };
  const config = loadConfig(settings);
  const tenants = loadTenants(settings, options.tenantsFile);
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const redis = workerConnection(redisUrl);
  // As a worker does at start: Redis's job states are trusted only if they are this database's.
  await adoptRedis(db, redis, prefix, logger);
  const queues = createQueues(redis, prefix);
  const producer = producerConnection(redisUrl, { lazyConnect: true });
  await producer.connect();
  const app = createApp({
    config,
    db,
    rules: DEFAULT_SCREENING_RULES,
    ...(options.tenantsFile ? { tenants } : {}),
    logger: options.logger ?? logger,
    queueCheck: async () => void (await producer.ping()),
    queues,
  });
  // As the worker connects: the stack's EHR settings (a real EHR's auth, when the environment names one).
  const ehr =
    options.ehrClient ??
    connectEhr(config, {
      ...(options.ehrFetch ? { fetch: options.ehrFetch } : {}),
      onShortfall: (lines) => logger.warn({ shortfall: lines }, 'the EHR token does not cover what the adapter sends'),
    });
  const runtimes: WorkerRuntime[] = [];
  let n = 0;
  const stack: Stack = {
    app,
    db,
    tenantDb: forTenant(db, DEFAULT_TENANT_ID),
    config,
    tenants,
    sandbox,
    queues,
    redis,
    ehr,
    prefix,
    proxy,
    env: {
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: schema,
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefixBase,
      EHR_BASE_URL: settings.EHR_BASE_URL ?? ehrUrl,
      EHR_TIMEOUT_MS: String(config.EHR_TIMEOUT_MS),
      JOB_LOCK_MS: String(config.JOB_LOCK_MS),
      SYNC_LEASE_MS: String(config.SYNC_LEASE_MS),
      SYNC_BACKOFF_BASE_MS: String(config.SYNC_BACKOFF_BASE_MS),
      SYNC_BACKOFF_CAP_MS: String(config.SYNC_BACKOFF_CAP_MS),
      RELAY_INTERVAL_MS: String(config.RELAY_INTERVAL_MS),
      REDISPATCH_AFTER_MS: String(config.REDISPATCH_AFTER_MS),
      FOLLOW_UP_REMINDER_LEAD: config.FOLLOW_UP_REMINDER_LEAD,
      LOG_LEVEL: 'warn',
    },
    startWorker(id = `w${++n}`) {
      // With a tenants file each tenant's EHR client is made from its own settings, as in production.
      const clients = options.tenantsFile ? { tenants, ...(options.ehrFetch ? { ehrFetch: options.ehrFetch } : {}) } : { ehr };
      const runtime = startWorkerRuntime(
        {
          config,
          db,
          ...clients,
          queues,
          queuePrefix: prefix,
          redis,
          logger,
          workerId: id,
          ...(options.webhookFetch ? { fetch: options.webhookFetch } : {}),
        },
        redis,
      );
      runtimes.push(runtime);
      return runtime;
    },
    async stopWorkers() {
      await Promise.all(runtimes.splice(0).map((r) => r.close()));
    },
    async drained(timeoutMs = 60_000, pollMs = 200) {
      const deadline = Date.now() + timeoutMs;
      // Timers stay open until they are due, for days: not work left, unless already due, when
      // their job runs now and writes (an escalated Task, a Communication) after "drained" said so.
      const open = async (): Promise<number> =>
        (
          await db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM outbox WHERE completed_at IS NULL AND CASE topic
               WHEN '${WORK.followUpSchedule.topic}' THEN (payload->>'dueBy')::timestamptz <= now()
               WHEN '${WORK.safetyAlertEscalation.topic}' THEN (payload->>'dueAt')::timestamptz <= now()
               ELSE true END`,
          )
        )[0]?.n ?? 0;
      for (;;) {
        if ((await open()) === 0) return;
        if (Date.now() > deadline) throw new Error(`outbox still has ${await open()} open rows after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, pollMs));
      }
    },
    async flushQueues() {
      await deleteKeys(redis, `${prefix}:*`);
    },
    async close() {
      await auditTrailOf(app).close();
      await stack.stopWorkers();
      await queues.close();
      if (!options.keepRedisKeys) await deleteKeys(redis, `${prefix}:*`);
      redis.disconnect();
      producer.disconnect();
      await proxy?.close();
      if (!options.sandbox) await sandbox.close();
      await db.close();
      await dropSchema(schema);
    },
  };
  return stack;
}

async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}
