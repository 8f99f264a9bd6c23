import { createServer, type Server } from 'node:http';
import type { Job } from 'bullmq';
import client from 'prom-client';

/**
 * Job outcomes and durations, in the process's default registry: served by the API's
 * /metrics when they share a process, or by `serveMetrics` when the worker runs alone.
 */
function singleton<T extends client.Metric>(name: string, make: () => T): T {
  return (client.register.getSingleMetric(name) as T | undefined) ?? make();
}

const jobs = singleton(
  'kap_jobs_total',
  () =>
    new client.Counter({
      name: 'kap_jobs_total',
      help: 'Jobs finished by queue and outcome (completed, retried, dead)',
      labelNames: ['queue', 'outcome'],
    }),
);
const durations = singleton(
  'kap_job_duration_seconds',
  () =>
    new client.Histogram({
      name: 'kap_job_duration_seconds',
      help: 'Time from a job starting to finishing, by queue',
      labelNames: ['queue'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    }),
);

const staleRequeues = singleton(
  'kap_sync_stale_requeues_total',
  () =>
    new client.Counter({
      name: 'kap_sync_stale_requeues_total',
      help: 'Patients whose pending changes outlived SYNC_STALE_AFTER with no sync asked for, re-queued by the sweep',
    }),
);

export function recordStaleRequeues(n: number): void {
  staleRequeues.inc(n);
}

export function recordJob(queue: string, outcome: 'completed' | 'retried' | 'dead', job: Job): void {
  jobs.inc({ queue, outcome });
  if (job.processedOn && job.finishedOn) durations.observe({ queue }, (job.finishedOn - job.processedOn) / 1000);
}

/** A /metrics endpoint for a worker running as its own process (METRICS_PORT). */
export async function serveMetrics(port: number, host = '0.0.0.0'): Promise<Server> {
  client.collectDefaultMetrics({ prefix: 'kap_worker_' });
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    client.register.metrics().then(
      (body) => res.writeHead(200, { 'Content-Type': client.register.contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return server;
}
