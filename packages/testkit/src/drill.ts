/**
 * The resilience drill (shared by bench/drill.bench.ts and test/resilience-drill.test.ts):
 * a sustained load of enrolments (screening, course, dosing session) at a fixed rate while
 * the EHR answers 500s, then 429 with Retry-After, then is down for a while (TCP proxy), a
 * worker process is SIGKILLed and restarted, and this stack's Redis keys are flushed (a
 * Redis restart without persistence). Then everything must reach the EHR exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { WORK } from '@kap/queue';
import { auditEhr } from './ehr-audit';
import { screeningRequest } from './requests';
import { startStack, type Stack } from './stack';
import { postJson, sessionRequest } from './bodies';
import { sleep } from './poll';

export interface DrillOptions {
  readonly seconds: number;
  /** Enrolments started per second (each is three POSTs). */
  readonly rate: number;
  readonly log?: (line: string) => void;
  readonly drainTimeoutMs?: number;
  /**
   * Flush this stack's Redis keys while the workers keep their connections (FLUSHALL under
   * them) instead of a restart that drops them. Off by default: the workers then stop taking
   * jobs (see the bench report).
   */
  readonly flushWhileRunning?: boolean;
}

export interface DrillResult {
  readonly requestsAccepted: number;
  readonly requestsRejected: Record<string, number>;
  readonly enrolmentsCompleted: number;
  readonly resourcesLocal: number;
  readonly resourcesInEhr: number;
  readonly patientsInEhr: number;
  readonly lost: string[];
  readonly duplicated: string[];
  readonly faults: Record<string, number>;
  readonly drainSeconds: number;
}

export function spawnWorkerProcess(stack: Stack, env: Record<string, string> = {}): ChildProcess {
  const script = resolve(__dirname, '../../../services/worker/dist/main.js');
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...stack.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  // A test killed by its timeout must not leave a worker polling a dropped schema behind.
  const reap = (): void => void child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.removeListener('exit', reap));
  return child;
}

export async function runDrill(o: DrillOptions): Promise<DrillResult> {
  const log = o.log ?? (() => undefined);
  const stack = await startStack({ FOLLOW_UP_OFFSETS: 'PT1H,PT2H,PT3H', SYNC_MAX_OUTAGE: 'PT10M' }, { behindProxy: true });
  const server = createServer(stack.app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let child: ChildProcess | undefined;
  try {
    stack.startWorker('drill-inproc');
    child = spawnWorkerProcess(stack, { WORKER_ID: 'drill-child-1' });

    let accepted = 0;
    let completed = 0;
    const rejected: Record<string, number> = {};
    const count = (status: number): boolean => {
      if (status === 200 || status === 201) {
        accepted++;
        return true;
      }
      rejected[status] = (rejected[status] ?? 0) + 1;
      return false;
    };
    const enrol = async (): Promise<void> => {
      try {
        const s = await postJson(`${url}/v1/screenings`, screeningRequest());
        if (!count(s.status)) return;
        const c = await postJson(`${url}/v1/courses`, { screeningId: s.body.screeningId });
        if (!count(c.status)) return;
        const d = await postJson(`${url}/v1/courses/${c.body.courseId}/dosing-sessions`, sessionRequest(1));
        if (count(d.status)) completed++;
      } catch (err) {
        rejected.network = (rejected.network ?? 0) + 1;
        log(`request failed: ${err instanceof Error ? err.message : err}`);
      }
    };

    const ms = o.seconds * 1000;
    const started = Date.now();
    const at = (fraction: number): number => started + fraction * ms;
    const faults: Record<string, number> = {};
    const timeline = (async () => {
      await sleep(at(0.1) - Date.now());
      log('fault: EHR answers 500 ×5');
      stack.sandbox.sandbox.injectFault({ status: 500, count: 5 });
      faults.ehr500 = 5;
      await sleep(at(0.25) - Date.now());
      log('fault: EHR answers 429 Retry-After 1 ×3');
      stack.sandbox.sandbox.injectFault({ status: 429, count: 3, retryAfter: 1 });
      faults.ehr429 = 3;
      await sleep(at(0.4) - Date.now());
      log('fault: EHR down');
      await stack.proxy?.down();
      faults.ehrDownMs = Math.round(0.15 * ms);
      await sleep(at(0.55) - Date.now());
      await stack.proxy?.up();
      log('fault: EHR back; SIGKILL the worker process');
      child?.kill('SIGKILL');
      faults.workerKilled = 1;
      await sleep(1000);
      child = spawnWorkerProcess(stack, { WORKER_ID: 'drill-child-2' });
      await sleep(at(0.75) - Date.now());
      if (o.flushWhileRunning) {
        log("fault: Redis loses this stack's keys under running workers");
        await stack.flushQueues();
      } else {
        // A Redis restart without persistence: connections drop, keys are gone, workers reconnect.
        log("fault: Redis restarts: workers disconnected, this stack's keys lost, workers back");
        child?.kill('SIGTERM');
        await stack.stopWorkers();
        log('workers stopped');
        await stack.flushQueues();
        log('keys flushed');
        stack.startWorker('drill-inproc-2');
        child = spawnWorkerProcess(stack, { WORKER_ID: 'drill-child-3' });
      }
      faults.redisFlushed = 1;
    })();

    const inflight: Array<Promise<void>> = [];
    for (let i = 0; Date.now() < started + ms; i++) {
      inflight.push(enrol());
      await sleep(Math.max(0, started + ((i + 1) * 1000) / o.rate - Date.now()));
    }
    await Promise.all(inflight);
    log(`load done: ${accepted} accepted`);
    await timeline;
    log('faults done; draining');
    const drainStart = Date.now();
    await stack.drained(o.drainTimeoutMs ?? 120_000).catch(async (err: Error) => {
      const open = await stack.db.query<Record<string, unknown>>(
        "SELECT id, job_ids, topic, dispatched_at IS NOT NULL AS dispatched, attempts, dead_at IS NOT NULL AS dead, left(coalesce(last_error, ''), 120) AS last_error FROM outbox WHERE completed_at IS NULL AND topic <> $1 ORDER BY id LIMIT 5",
        [WORK.followUpSchedule.topic],
      );
      const jobs = await Promise.all(
        open.map(async (r) => {
          const job = await stack.queues.ehrSync.getJob(String((r.job_ids as string[])[0] ?? ''));
          return job ? await job.getState() : 'absent';
        }),
      );
      log(
        `open rows: ${JSON.stringify(open)} jobs: ${JSON.stringify(jobs)} counts: ${JSON.stringify(await stack.queues.ehrSync.getJobCounts())}`,
      );
      const activity = await stack.db.query<Record<string, unknown>>(
        "SELECT pid, state, wait_event_type, wait_event, left(query, 100) AS query, now() - state_change AS for FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'",
      );
      log(`pg activity: ${JSON.stringify(activity)}`);
      const active = await stack.queues.ehrSync.getActive();
      log(
        `active: ${JSON.stringify(active.map((j) => ({ id: j.id, data: j.data, processedOn: j.processedOn, attemptsMade: j.attemptsMade, stalledCounter: (j as unknown as { stalledCounter?: number }).stalledCounter })))}`,
      );
      const waiting = [
        ...(await stack.queues.ehrSync.getWaiting()),
        ...(await stack.queues.ehrSync.getActive()),
        ...(await stack.queues.ehrSync.getFailed()),
      ];
      const reasons: Record<string, number> = {};
      for (const j of waiting) reasons[String(j.failedReason).slice(0, 200)] = (reasons[String(j.failedReason).slice(0, 200)] ?? 0) + 1;
      log(`failure reasons: ${JSON.stringify(reasons)}`);
      const leases = await stack.db.query('SELECT * FROM sync_leases');
      log(`leases: ${JSON.stringify(leases)} now ${new Date().toISOString()}`);
      throw err;
    });
    const drainSeconds = (Date.now() - drainStart) / 1000;
    const audit = await auditEhr(stack.db, stack.sandbox.url);
    const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);
    return {
      requestsAccepted: accepted,
      requestsRejected: rejected,
      enrolmentsCompleted: completed,
      resourcesLocal: sum(audit.local),
      resourcesInEhr: sum(audit.ehr),
      patientsInEhr: audit.ehr.Patient ?? 0,
      lost: audit.missing,
      duplicated: audit.duplicates,
      faults,
      drainSeconds,
    };
  } finally {
    child?.kill('SIGKILL');
    await new Promise<void>((r) => server.close(() => r()));
    await stack.close();
  }
}
