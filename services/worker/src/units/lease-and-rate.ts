import { isEhrError } from '@kap/ehr-client';
import { acquireLease, releaseLease } from '@kap/store';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { WorkerDeps } from '../deps';

/**
 * The waits every unit shares: a lease another job holds, an EHR's 429, a precondition not
 * met yet. Each moves the job back to the delayed set and throws BullMQ's DelayedError, so the
 * wait spends no attempt and the worker's failed handler does not count it as a failure.
 */

/** When another job holds the lease, look again this soon (jittered, so waiters do not collide). */
export const LEASE_BUSY_RETRY_MS = 300;

/** How long a 429 waits when the EHR names no Retry-After. */
const RATE_LIMITED_DEFAULT_MS = 30_000;

/** The database handle a lease lives in: the tenant's own. */
type LeaseDb = Parameters<typeof acquireLease>[0];

/** Brings the job back after `delayMs` (plus up to `jitterMs`) without spending an attempt. */
export async function retryLater(job: Job, token: string | undefined, delayMs: number, jitterMs = 0): Promise<never> {
  await job.moveToDelayed(Date.now() + delayMs + (jitterMs > 0 ? Math.floor(Math.random() * jitterMs) : 0), token);
  throw new DelayedError();
}

/**
 * Runs `work` holding the lease `key` (one job at a time per key, across workers), held by
 * this worker and job for SYNC_LEASE_MS at most, released whatever `work` does. A lease
 * another job holds brings this job back shortly instead.
 */
export async function withLease<T>(
  deps: WorkerDeps,
  db: LeaseDb,
  job: Job,
  token: string | undefined,
  key: string,
  work: () => Promise<T>,
): Promise<T> {
  const holder = `${deps.workerId}/${job.id}`;
  if (!(await acquireLease(db, key, holder, deps.config.SYNC_LEASE_MS)))
    return retryLater(job, token, LEASE_BUSY_RETRY_MS, LEASE_BUSY_RETRY_MS);
  try {
    return await work();
  } finally {
    await releaseLease(db, key, holder).catch(() => undefined);
  }
}

/**
 * Rethrows what a unit's EHR work threw as BullMQ should treat it: a wait (DelayedError)
 * stays one; a 429 waits as long as the EHR asks without spending an attempt; a 4xx that no
 * retry can fix goes straight to the dead letters, `refused` saying what was refused;
 * anything else is retried with backoff.
 */
export async function rethrowEhrFailure(err: unknown, job: Job, token: string | undefined, refused: string): Promise<never> {
  if (err instanceof DelayedError) throw err;
  if (isEhrError(err) && err.kind === 'rate-limited') return retryLater(job, token, err.retryAfterMs ?? RATE_LIMITED_DEFAULT_MS);
  if (isEhrError(err) && !err.transient) throw new UnrecoverableError(`${refused}: ${err.message}`);
  throw err;
}
