import { attemptsToSpan, syncBackoffMs } from '@kap/ehr-client';
import { parseDurationMs } from '@kap/domain';
import type { JobLimits, QueueName } from '@kap/queue';
import { UnrecoverableError, Worker, type ConnectionOptions, type Job, type Processor } from 'bullmq';
import { countFailedAttempt, deadLetter, isFinalFailure, isStalledOut } from './dead-letters';
import type { WorkerDeps } from './deps';
import { recordJob } from './metrics';
import { closePdfThread } from './course-note/pdf-thread';
import { closeSenders } from './hl7-out/senders';
import { startRelay } from './relay';
import { startStaleSweep } from './stale-sweep';
import { startSubscriptionRenewal } from './inbound/renew-subscriptions';
import { processorsByQueue, queueConcurrency, type UnitProcessor } from './units/registry';

export interface WorkerRuntime {
  /** Stops taking work, lets running jobs finish (or returns them to the queue), stops the relay. */
  close(): Promise<void>;
}

/** How long retries last, from configuration: EHR writes retry across an hour's outage by default. */
export function jobLimits(deps: WorkerDeps): JobLimits {
  const c = deps.config;
  return {
    syncAttempts: attemptsToSpan(parseDurationMs(c.SYNC_MAX_OUTAGE), { baseMs: c.SYNC_BACKOFF_BASE_MS, capMs: c.SYNC_BACKOFF_CAP_MS }),
    webhookAttempts: c.WEBHOOK_ATTEMPTS,
  };
}

/**
 * Starts the outbox relay, the stale-sync sweep and one BullMQ worker per queue on
 * `connection` (which must allow `maxRetriesPerRequest: null`), all under the deployment's
 * prefix. Final failures become dead letters.
 */
export function startWorkerRuntime(deps: WorkerDeps, connection: ConnectionOptions): WorkerRuntime {
  const backoffStrategy = (attemptsMade: number): number =>
    syncBackoffMs(attemptsMade, { baseMs: deps.config.SYNC_BACKOFF_BASE_MS, capMs: deps.config.SYNC_BACKOFF_CAP_MS });
  const start = (name: QueueName, processor: Processor, concurrency: number): Worker => {
    const worker = new Worker(name, processor, {
      connection,
      prefix: deps.queuePrefix,
      concurrency,
      lockDuration: deps.config.JOB_LOCK_MS,
      stalledInterval: deps.config.JOB_LOCK_MS,
      // A stall is a worker's trouble; several are allowed before BullMQ fails the job (and the relay re-queues it).
      maxStalledCount: 3,
      settings: { backoffStrategy },
    });
    worker.on('completed', (job: Job) => recordJob(name, 'completed', job));
    worker.on('failed', (job: Job | undefined, err: Error) => {
      if (!job) return;
      // A DelayedError (lease busy, 429) is a wait, not a failure.
      if (err.name === 'DelayedError') return;
      if (isStalledOut(err)) {
        // The workers lost it (crashed, or starved of CPU past JOB_LOCK_MS), not the job: the relay queues it again.
        deps.logger.warn({ queue: name, job: job.id }, 'job stalled out; the relay will queue it again');
        return;
      }
      recordJob(name, isFinalFailure(job, err) ? 'dead' : 'retried', job);
      const counted = countFailedAttempt(deps.db, job, err).catch((countErr: unknown) =>
        deps.logger.warn({ err: countErr, job: job.id }, 'could not count a failed attempt on its outbox row'),
      );
      if (!isFinalFailure(job, err)) {
        deps.logger.warn({ queue: name, job: job.id, attempt: job.attemptsMade, err: err.message }, 'job failed; will retry');
        return;
      }
      // After the count, so the dead letter's reason is the row's last error.
      counted
        .then(() => deadLetter(deps.db, deps.logger, job, err))
        .catch((dlqErr: unknown) =>
          deps.logger.error({ err: dlqErr, job: job.id }, 'could not record a dead letter; the relay sweep will'),
        );
    });
    worker.on('error', (err) => deps.logger.error({ queue: name, err: err.message }, 'worker error'));
    return worker;
  };
  // One worker per queue of the registry; a job goes to its unit's processor by its name.
  const workers = [...processorsByQueue(deps)].map(([name, byJobName]) =>
    start(name, dispatchByJobName(name, byJobName), queueConcurrency(deps, name)),
  );
  const relay = startRelay(deps, jobLimits(deps));
  const sweep = startStaleSweep(deps);
  const renewal = startSubscriptionRenewal(deps);
  return {
    async close() {
      await renewal.stop();
      await sweep.stop();
      await relay.stop();
      await Promise.all(workers.map((w) => w.close()));
      closeSenders(deps);
      await closePdfThread();
    },
  };
}

function dispatchByJobName(queue: QueueName, byJobName: ReadonlyMap<string, UnitProcessor>): Processor {
  return async (job, token) => {
    const run = byJobName.get(job.name);
    if (!run) throw new UnrecoverableError(`no unit on queue "${queue}" has jobs named "${job.name}"`);
    return run(job, token);
  };
}
