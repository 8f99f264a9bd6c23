import {
  newJobId,
  recordHighWater,
  unitForTopic,
  unitPayload,
  type JobLimits,
  type JobRequest,
  type QueueName,
  type WorkUnit,
} from '@kap/queue';
import { listUndispatched, markDead, markDispatched, onOutboxWork, type Dispatched, type OutboxRow } from '@kap/store';
import type { Queue } from 'bullmq';
import { isStalledOut } from './dead-letters';
import type { WorkerDeps } from './deps';

/** A row ready to go to its queue: the unit it belongs to, its jobs and their fresh ids. */
interface Dispatch {
  readonly row: OutboxRow;
  readonly unit: WorkUnit<unknown>;
  readonly jobs: readonly (JobRequest & { readonly id: string })[];
}

/**
 * One pass of the outbox relay, a loop over the work registry: each new row becomes its
 * unit's jobs, under ids made fresh for this dispatch and recorded on the row before the
 * jobs are added. A row dispatched long ago and still open is looked up by those ids: still
 * queued or running, it is left alone; failed for good, it becomes a dead letter; anything
 * else (lost with a flushed or restarted Redis, stalled out, or finished without completing
 * the row) is dispatched again under new ids. No job state ever completes a row: only a
 * processor does, with the work done. A row that names no unit, or whose payload does not
 * parse, becomes a dead letter with the reason rather than stalling the relay. Rows of every
 * tenant pass here (this handle is the deployment's); each row's jobs carry the tenant of the
 * row's own `tenant_id` column, whatever its payload says.
 * Returns how many rows it looked at.
 */
export async function relayOnce(deps: WorkerDeps, limits: JobLimits, limit = 200): Promise<number> {
  const rows = await listUndispatched(deps.db, { limit, olderThanMs: deps.config.REDISPATCH_AFTER_MS });
  if (rows.length === 0) return 0;
  const dispatches: Dispatch[] = [];
  const stillRunning: Dispatched[] = [];
  // Each row's unit and payload, read once: the stale rows' look-ups and the dispatch below both use them.
  const parsed: Parsed[] = [];
  for (const row of rows) {
    const read = readRow(row);
    if ('deadLetter' in read) {
      deps.logger.error({ outbox: row.id, topic: row.topic, reason: read.deadLetter }, 'outbox row cannot be dispatched: dead letter');
      await markDead(deps.db, row.id, read.deadLetter);
      continue;
    }
    parsed.push(read);
  }
  // The stale rows' jobs are looked up all at once: one pipelined Redis exchange a pass, not two calls a row.
  const verdicts = new Map(
    await Promise.all(
      parsed.filter(({ row }) => row.dispatchedAt).map(({ row, unit }) => lookUp(deps, unit, row).then((v) => [row.id, v] as const)),
    ),
  );
  for (const { row, unit, payload } of parsed) {
    if (row.dispatchedAt) {
      const verdict = verdicts.get(row.id) ?? 'lost';
      if (verdict === 'running') {
        stillRunning.push({ id: row.id, jobIds: row.jobIds });
        continue;
      }
      if (verdict === 'failed') continue;
      await removeJobs(deps.queues.get(unit.queue), row.jobIds);
    }
    const jobs = unit
      .jobs(payload, { key: row.key, patientId: row.patientId, tenantId: row.tenantId })
      .map((j) => ({ ...j, id: newJobId(unit) }));
    dispatches.push({ row, unit, jobs });
  }
  // Ids first, then Redis: a crash between leaves ids Redis lacks, which the sweep re-dispatches.
  await markDispatched(deps.db, [...stillRunning, ...dispatches.map((d) => ({ id: d.row.id, jobIds: d.jobs.map((j) => j.id) }))]);
  const now = (deps.now ?? (() => new Date()))().getTime();
  // One addBulk (one MULTI round trip) per queue per pass, not one per row: a backlog of rows
  // costs a few Redis exchanges, and the queues are filled in parallel.
  const byQueue = new Map<QueueName, Parameters<Queue['addBulk']>[0]>();
  for (const d of dispatches) {
    const bulk = byQueue.get(d.unit.queue) ?? [];
    for (const j of d.jobs) {
      bulk.push({
        name: j.name,
        data: j.data,
        opts: { ...d.unit.options(limits), jobId: j.id, ...(j.runAt !== undefined ? { delay: Math.max(0, j.runAt - now) } : {}) },
      });
    }
    byQueue.set(d.unit.queue, bulk);
  }
  // The high water goes with the jobs, not after them: it names rows the database already
  // holds as dispatched, so it is true whether or not an addBulk fails, and the pass ends one
  // Redis round trip sooner.
  const newest = dispatches.reduce((max, d) => Math.max(max, d.row.id), 0);
  const redis = deps.redis;
  await Promise.all([
    ...[...byQueue].map(([name, bulk]) => deps.queues.get(name).addBulk(bulk)),
    ...(newest > 0 && redis ? [recordHighWater(redis, deps.queuePrefix, newest)] : []),
  ]);
  return rows.length;
}

/** A row the relay can dispatch: its unit, and its payload parsed (the tenant is the row's column). */
interface Parsed {
  readonly row: OutboxRow;
  readonly unit: WorkUnit<unknown>;
  readonly payload: unknown;
}

/** The unit and payload of a row, or why it becomes a dead letter: no unit has its topic, or its payload does not parse. */
function readRow(row: OutboxRow): Parsed | { readonly deadLetter: string } {
  const unit = unitForTopic(row.topic);
  if (!unit) return { deadLetter: `no unit of work has the topic "${row.topic}"` };
  const payload = unit.payload.safeParse(unitPayload(row.payload));
  if (!payload.success)
    return {
      deadLetter: `payload does not parse: ${payload.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`).join('; ')}`,
    };
  return { row, unit, payload: payload.data };
}

/**
 * Where a stale row's main job is, by the id recorded at its dispatch: `running` (waiting,
 * delayed or active), `failed` for good (recorded here as a dead letter, as the failed
 * handler normally does first), or `lost`.
 */
async function lookUp(deps: WorkerDeps, unit: WorkUnit<unknown>, row: OutboxRow): Promise<'running' | 'failed' | 'lost'> {
  const mainId = row.jobIds[0];
  const queue = deps.queues.get(unit.queue);
  // The state alone (one script call); the job itself is read only when it failed, for its reason.
  const state = mainId ? await queue.getJobState(mainId) : 'unknown';
  if (state === 'unknown') {
    deps.logger.warn({ outbox: row.id, job: mainId }, 'job lost from Redis; dispatching it again');
    return 'lost';
  }
  if (state === 'failed') {
    const job = await queue.getJob(mainId as string);
    if (!job) return 'lost';
    if (isStalledOut(new Error(job.failedReason ?? ''))) {
      deps.logger.warn({ outbox: row.id, job: mainId }, 'job stalled out; dispatching it again');
      return 'lost';
    }
    await markDead(deps.db, row.id, job.failedReason ?? 'failed');
    return 'failed';
  }
  if (state === 'completed') {
    // It ended without completing the row (a processor completes it with the work done), so the work is not done.
    deps.logger.warn({ outbox: row.id, job: mainId }, 'job finished but its row is open; dispatching it again');
    return 'lost';
  }
  return 'running';
}

/**
 * Removes what is left of a dispatch being replaced, so its timers do not fire twice; an active job cannot be removed and finds its work
 * done.
 */
export async function removeJobs(queue: Queue, jobIds: readonly string[]): Promise<void> {
  // Independent removals, sent together: one wait for Redis instead of one per job.
  await Promise.all(jobIds.map((id) => queue.remove(id).catch(() => 0)));
}

/**
 * Runs relay passes until stopped: at once when a commit adds outbox rows (PostgreSQL
 * NOTIFY), else every RELAY_INTERVAL_MS, which also catches what a lost notification or a
 * broken listening connection would miss. A failing pass (database or Redis down) is
 * logged and retried. Passes never overlap; a wake-up during one runs another right after.
 */
export function startRelay(deps: WorkerDeps, limits: JobLimits): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  const pass = async (): Promise<void> => {
    let busy = false;
    try {
      busy = (await relayOnce(deps, limits)) > 0;
    } catch (err) {
      deps.logger.warn({ err: err instanceof Error ? err.message : err }, 'outbox relay pass failed; will retry');
    }
    running = undefined;
    if (stopped) return;
    const next = busy || again;
    again = false;
    schedule(next ? 0 : deps.config.RELAY_INTERVAL_MS);
  };
  const schedule = (ms: number): void => {
    clearTimeout(timer);
    timer = setTimeout(wake, ms);
  };
  const wake = (): void => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    clearTimeout(timer);
    running = pass();
  };
  const unlisten = onOutboxWork(deps.db, wake).catch((err: unknown) => {
    deps.logger.warn({ err: err instanceof Error ? err.message : err }, 'cannot listen for outbox notifications; the relay polls');
    return async () => undefined;
  });
  wake();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await (
        await unlisten
      )();
      await running;
    },
  };
}
