import { EhrSyncJobData, FollowUpJobData, InboundMessageJobData, NotifyJobData, PatientUpdateJobData, ehrSyncJobId, followUpJobId, inboundJobId, notifyJobId } from '@kap/queue';
import { INBOUND_TOPIC, OUTBOX_TOPICS, completeOutboxMatching, listUndispatched, markCompleted, markDead, markDispatched, type OutboxRow } from '@kap/store';
import type { JobsOptions, Queue } from 'bullmq';
import { isStalledOut } from './dead-letters';
import type { WorkerDeps } from './deps';
import { PATIENT_UPDATE_TOPIC } from './inbound/apply-event';


/** Job options per queue: attempts and backoff, and how long finished jobs stay visible. */
export interface JobPolicies {
  readonly ehrSync: JobsOptions;
  readonly followUps: JobsOptions;
  readonly notify: JobsOptions;
  readonly inbound: JobsOptions;
}

interface Dispatch {
  readonly queue: Queue;
  readonly name: string;
  readonly jobId: string;
  readonly data: Record<string, unknown>;
  readonly opts: JobsOptions;
}

/** The jobs an outbox row stands for; the first is the one whose completion completes the row. */
function dispatchesFor(deps: WorkerDeps, policies: JobPolicies, row: OutboxRow, now: number): Dispatch[] {
  const p = row.payload as Record<string, unknown>;
  switch (row.topic) {
    case OUTBOX_TOPICS.ehrSync: {
      const data = EhrSyncJobData.parse({ patientId: p.patientId ?? row.patientId, outboxId: row.id });
      return [{ queue: deps.queues.ehrSync, name: 'sync', jobId: ehrSyncJobId(row.id), data, opts: policies.ehrSync }];
    }
    case OUTBOX_TOPICS.followUpSchedule: {
      const followUpId = String(p.followUpId);
      const due = Date.parse(String(p.dueBy));
      const remind = Date.parse(String(p.remindAt));
      const job = (kind: FollowUpJobData['kind'], at: number): Dispatch => ({
        queue: deps.queues.followUps,
        name: kind,
        jobId: followUpJobId(followUpId, kind),
        data: FollowUpJobData.parse({ followUpId, kind }),
        opts: { ...policies.followUps, delay: Math.max(0, at - now) },
      });
      return [job('due', due), job('reminder', remind)];
    }
    case OUTBOX_TOPICS.notify:
      return [{ queue: deps.queues.notify, name: String(p.event), jobId: notifyJobId(row.id), data: NotifyJobData.parse({ outboxId: row.id }), opts: policies.notify }];
    case INBOUND_TOPIC: {
      const data = InboundMessageJobData.parse({ inboundMessageId: p.inboundMessageId, outboxId: row.id });
      return [{ queue: deps.queues.inbound, name: 'inbound-message', jobId: inboundJobId(row.id), data, opts: policies.inbound }];
    }
    case PATIENT_UPDATE_TOPIC: {
      const data = PatientUpdateJobData.parse({ patientId: p.patientId ?? row.patientId, outboxId: row.id });
      return [{ queue: deps.queues.inbound, name: 'patient-demographics', jobId: inboundJobId(row.id), data, opts: policies.inbound }];
    }
    default:
      return [];
  }
}

/**
 * One pass of the outbox relay: hands new rows to their queues, and re-examines rows
 * dispatched long ago and still open, whose job Redis may have lost (flushed, restarted
 * without persistence). Job ids come from the row, so re-adding an existing job is a no-op.
 * Returns how many rows it handled.
 */
export async function relayOnce(deps: WorkerDeps, policies: JobPolicies, limit = 200): Promise<number> {
  const rows = await listUndispatched(deps.db, { limit, olderThanMs: deps.config.REDISPATCH_AFTER_MS });
  if (rows.length === 0) return 0;
  const now = (deps.now ?? (() => new Date()))().getTime();
  const handled: number[] = [];
  for (const row of rows) {
    if (row.topic === OUTBOX_TOPICS.followUpCancel) {
      await cancelFollowUpJobs(deps, row);
      continue;
    }
    const dispatches = dispatchesFor(deps, policies, row, now);
    if (dispatches.length === 0) {
      deps.logger.error({ outbox: row.id, topic: row.topic }, 'outbox row with an unknown topic');
      await markDead(deps.db, row.id, `unknown topic ${row.topic}`);
      continue;
    }
    if (row.dispatchedAt && (await settledInRedis(deps, row, dispatches[0] as Dispatch))) continue;
    // A re-driven dead letter: its failed job still holds the id, and would swallow the add.
    if (!row.dispatchedAt && row.lastError) await removeFailedJobs(dispatches);
    for (const d of dispatches) await d.queue.add(d.name, d.data, { ...d.opts, jobId: d.jobId });
    handled.push(row.id);
  }
  await markDispatched(deps.db, handled);
  return rows.length;
}

/**
 * A stale row's main job, as Redis has it: still queued or running (leave it), finished
 * (complete the row), failed for good (a dead letter), stalled out, as BullMQ fails a job
 * workers kept losing (false: queue it again), or gone (false: add it again).
 */
async function settledInRedis(deps: WorkerDeps, row: OutboxRow, main: Dispatch): Promise<boolean> {
  const job = await main.queue.getJob(main.jobId);
  if (!job) {
    deps.logger.warn({ outbox: row.id, job: main.jobId }, 'job lost from Redis; dispatching it again');
    return false;
  }
  const state = await job.getState();
  if (state === 'failed') {
    if (isStalledOut(new Error(job.failedReason ?? ''))) {
      deps.logger.warn({ outbox: row.id, job: main.jobId }, 'job stalled out; queueing it again');
      await job.remove();
      return false;
    }
    // Attempts spent or refused for good; the failed handler normally records this first.
    await markDead(deps.db, row.id, job.failedReason ?? 'failed');
  }
  if (state === 'completed') await markCompleted(deps.db, row.id);
  await markDispatched(deps.db, [row.id]);
  return true;
}

async function removeFailedJobs(dispatches: readonly Dispatch[]): Promise<void> {
  for (const d of dispatches) {
    const job = await d.queue.getJob(d.jobId);
    if (job && (await job.getState()) === 'failed') await job.remove();
  }
}

async function cancelFollowUpJobs(deps: WorkerDeps, row: OutboxRow): Promise<void> {
  const ids = ((row.payload as { followUpIds?: unknown }).followUpIds ?? []) as string[];
  for (const id of ids) {
    for (const kind of ['reminder', 'due'] as const) {
      // An active job cannot be removed; it re-reads the follow-up, finds it cancelled and stops.
      await deps.queues.followUps.remove(followUpJobId(id, kind)).catch(() => 0);
    }
  }
  await completeOutboxMatching(deps.db, OUTBOX_TOPICS.followUpSchedule, 'followUpId', ids);
  await markCompleted(deps.db, row.id);
}

/** Runs relay passes until stopped; a failing pass (database or Redis down) is logged and retried. */
export function startRelay(deps: WorkerDeps, policies: JobPolicies): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const pass = async (): Promise<void> => {
    let busy = false;
    try {
      busy = (await relayOnce(deps, policies)) > 0;
    } catch (err) {
      deps.logger.warn({ err: err instanceof Error ? err.message : err }, 'outbox relay pass failed; will retry');
    }
    if (!stopped) timer = setTimeout(() => (running = pass()), busy ? 0 : deps.config.RELAY_INTERVAL_MS);
  };
  running = pass();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
