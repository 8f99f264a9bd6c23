import { forTenant, getOutboxMessageByKey, listUnsynced, markDead, markFailed, recordFailedAttempt, type DeploymentDb } from '@kap/store';
import { TenantId } from '@kap/queue';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';

/** BullMQ failed the job because workers kept losing it, not because it failed. */
export function isStalledOut(err: Error): boolean {
  return /stalled more than allowable limit/.test(err.message);
}

/** Whether this failure is the job's last: attempts used up, or an error no retry can fix. */
export function isFinalFailure(job: Job, err: Error): boolean {
  if (isStalledOut(err)) return false;
  return err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
}

/** Counts a failed attempt on the job's outbox row, for operators to see retries; a wait (lease, 429) is no attempt. */
export async function countFailedAttempt(db: DeploymentDb, job: Job, err: Error): Promise<void> {
  const key = (job.data as { outboxKey?: unknown }).outboxKey;
  if (typeof key === 'string') await recordFailedAttempt(db, key, err.message.slice(0, 1000));
}

/**
 * The queue gave up on a job: its outbox row becomes a dead letter, listed and re-driven
 * over the API, and for an EHR sync each waiting resource shows `failed` with the error.
 * Should this write fail, the relay's sweep finds the job failed in Redis and does it.
 */
export async function deadLetter(db: DeploymentDb, logger: Logger, job: Job, err: Error): Promise<void> {
  const data = job.data as { outboxKey?: unknown; patientId?: unknown; tenantId?: unknown };
  const row = typeof data.outboxKey === 'string' ? await getOutboxMessageByKey(db, data.outboxKey) : undefined;
  if (!row) return;
  await markDead(db, row.id, err.message.slice(0, 1000));
  const tenant = TenantId.safeParse(data.tenantId);
  if (typeof data.patientId === 'string' && tenant.success) {
    // The patient's rows are its tenant's: read and marked through that tenant's handle.
    const tenantDb = forTenant(db, tenant.data);
    for (const u of await listUnsynced(tenantDb, data.patientId)) {
      // Kept back on purpose, or waiting for the Patient: another resource's error is not theirs.
      if (u.status === 'not-sent' || u.status === 'waiting-for-patient') continue;
      await markFailed(tenantDb, { type: u.type, id: u.id, error: err.message.slice(0, 500), localVersion: u.version });
    }
  }
  logger.error({ queue: job.queueName, job: job.id, outbox: row.id, attempts: job.attemptsMade, err: err.message }, 'dead letter');
}
