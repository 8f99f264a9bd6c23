import { WORK, type Queues } from '@kap/queue';
import {
  deadLettersByTopic,
  oldestPendingAgeSeconds,
  oldestPendingSeconds,
  openOutboxByTopic,
  unsyncedByStatus,
  type DeploymentDb,
} from '@kap/store';
import type { RequestHandler, Router } from 'express';
import { Router as makeRouter } from 'express';
import client from 'prom-client';

/**
 * Prometheus metrics at `/metrics`: HTTP traffic by route pattern (never by URL, which
 * holds ids), and, read at scrape time so every replica reports the same truth, queue
 * depths by state, open outbox work, dead letters, unsynced resources and sync lag.
 * Job outcomes and durations come from the worker (in this registry when it shares the
 * process, else on its own METRICS_PORT).
 */
const registry = client.register;

const httpRequests = singleton(
  'kap_http_requests_total',
  () =>
    new client.Counter({
      name: 'kap_http_requests_total',
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
    }),
);
const httpDuration = singleton(
  'kap_http_request_duration_seconds',
  () =>
    new client.Histogram({
      name: 'kap_http_request_duration_seconds',
      help: 'HTTP request duration by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    }),
);

/** Registers a metric once per process: API and worker may share one registry (standalone). */
export function singleton<T extends client.Metric>(name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function httpMetrics(): RequestHandler {
  return (req, res, next) => {
    const end = httpDuration.startTimer();
    res.on('finish', () => {
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      end({ method: req.method, route });
    });
    next();
  };
}

/** A gauge whose value is read at scrape time by `read`, which sets its labels. */
function scraped(
  registry: client.Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: (set: (labels: Record<string, string>, value: number) => void) => Promise<void>,
): void {
  new client.Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    async collect() {
      this.reset();
      await read((labels, value) => this.set(labels, value));
    },
  });
}

/**
 * Gauges computed when Prometheus scrapes, from Redis and PostgreSQL, so every replica
 * reports the same truth. They live in a registry of this app's own: they read this
 * app's database and queues.
 */
function stateRegistry(db: DeploymentDb, queues: Queues | undefined): client.Registry {
  const registry = new client.Registry();
  const countBy = async (
    read: (db: DeploymentDb) => Promise<Record<string, number>>,
    label: string,
    set: (l: Record<string, string>, v: number) => void,
  ): Promise<void> => {
    for (const [value, n] of Object.entries(await read(db))) set({ [label]: value }, n);
  };
  if (queues) {
    scraped(registry, 'kap_queue_jobs', 'Jobs per queue and state', ['queue', 'state'], async (set) => {
      for (const q of queues.all) {
        const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized');
        for (const [state, n] of Object.entries(counts)) set({ queue: q.name, state }, n);
      }
    });
  }
  scraped(registry, 'kap_outbox_open', 'Outbox rows not done yet, by topic (dead letters excluded)', ['topic'], (set) =>
    countBy(openOutboxByTopic, 'topic', set),
  );
  scraped(registry, 'kap_dead_letters', 'Work the queues gave up on, waiting to be re-driven', ['topic'], (set) =>
    countBy(deadLettersByTopic, 'topic', set),
  );
  scraped(registry, 'kap_resources_unsynced', 'Stored resources whose latest version is not in the EHR yet, by status', ['status'], (set) =>
    countBy(unsyncedByStatus, 'status', set),
  );
  scraped(registry, 'kap_sync_lag_seconds', 'Age of the oldest accepted change not yet in the EHR (0 when all are)', [], async (set) => {
    set({}, await oldestPendingAgeSeconds(db, WORK.ehrSync.topic));
  });
  scraped(
    registry,
    'kap_sync_oldest_pending_seconds',
    'Age of the oldest stored resource version not yet confirmed by the EHR (0 when none)',
    [],
    async (set) => {
      set({}, await oldestPendingSeconds(db));
    },
  );
  return registry;
}

let defaultsCollected = false;

export function metricsRoutes(db: DeploymentDb, queues: Queues | undefined): Router {
  if (!defaultsCollected) {
    client.collectDefaultMetrics({ prefix: 'kap_' });
    defaultsCollected = true;
  }
  const merged = client.Registry.merge([registry, stateRegistry(db, queues)]);
  const router = makeRouter();
  router.get('/metrics', async (_req, res) => {
    res.type(merged.contentType).send(await merged.metrics());
  });
  return router;
}
