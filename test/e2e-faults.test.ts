import { spawnWorkerProcess } from '@kap/testkit/drill';
import { until } from '@kap/testkit/poll';
import request from 'supertest';
import { enrol, expectExactlyOnce } from '@kap/testkit/course';
import { startStack, type Stack } from '@kap/testkit/stack';

jest.setTimeout(180_000);

const statusCount = (stack: Stack, status: number): number => stack.sandbox.sandbox.stats().requests.byStatus[String(status)] ?? 0;

describe('everything accepted reaches the EHR exactly once, whatever fails', () => {
  let stack: Stack;
  beforeEach(async () => {
    // Long follow-up offsets: these tests are about EHR writes, not timers.
    stack = await startStack({ FOLLOW_UP_OFFSETS: 'PT1H,PT2H,PT3H' }, { behindProxy: true });
  });
  afterEach(async () => {
    await stack.close();
  });

  it('when the EHR answers 500, then 429 with Retry-After, then 412, and then is down for a while', async () => {
    stack.startWorker();
    stack.sandbox.sandbox.injectFault({ status: 500, count: 3 });
    await enrol(stack);
    await until(() => statusCount(stack, 500) >= 3, 20_000, 'three 500s');

    stack.sandbox.sandbox.injectFault({ status: 429, count: 2, retryAfter: 1 });
    await enrol(stack);
    await until(() => statusCount(stack, 429) >= 2, 20_000, 'two 429s');

    stack.sandbox.sandbox.injectFault({ status: 412, count: 4, match: 'transaction' });
    await enrol(stack);
    await until(() => statusCount(stack, 412) >= 4, 20_000, 'four 412s');

    await stack.proxy?.down();
    await enrol(stack);
    // Up again once a sync has met the outage (its error is noted on the waiting resources).
    await until(
      async () => {
        const [row] = await stack.db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM sync_state WHERE status <> 'synced' AND last_error IS NOT NULL",
        );
        return (row?.n ?? 0) > 0;
      },
      20_000,
      'a sync attempt to meet the outage',
    );
    await stack.proxy?.up();

    await expectExactlyOnce(stack);
    expect(stack.sandbox.sandbox.stats().resources.Patient).toBe(4);
  });

  it('when a worker process is killed in the middle of a job', async () => {
    const worker = spawnWorkerProcess(stack);
    try {
      // The EHR answers the next transaction slowly, so the worker is mid-request when killed.
      stack.sandbox.sandbox.injectFault({ delayMs: 1500, count: 1, match: 'transaction' });
      await enrol(stack);
      await until(() => (stack.sandbox.sandbox.stats().requests.byMethod.POST ?? 0) >= 1, 20_000, 'the worker to send a transaction');
      worker.kill('SIGKILL');
      await new Promise((r) => worker.once('exit', r));
    } finally {
      worker.kill('SIGKILL');
    }
    await enrol(stack);
    // A fresh worker takes over once the killed one's job lock and patient lease expire.
    stack.startWorker('after-kill');
    await expectExactlyOnce(stack);
    expect(stack.sandbox.sandbox.stats().resources.Patient).toBe(2);
  });

  it('when Redis loses every queued job', async () => {
    // The EHR is down, so the sync jobs are queued and waiting when Redis is flushed.
    await stack.proxy?.down();
    stack.startWorker();
    const courseId = await enrol(stack);
    await until(
      async () => {
        const rows = await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE dispatched_at IS NULL');
        return rows[0]?.n === 0;
      },
      20_000,
      'the relay to dispatch every row',
    );
    await stack.stopWorkers();
    await stack.flushQueues();
    expect(await stack.queues.ehrSync.getJobCounts()).toMatchObject({ waiting: 0, delayed: 0, active: 0 });

    await stack.proxy?.up();
    stack.startWorker('after-flush');
    await expectExactlyOnce(stack);
    // The follow-up timers were lost with the flush too, and are back: the relay's recheck of
    // open rows finds them missing (it need not have come round before the sync drained).
    await until(async () => (await stack.queues.followUps.getDelayedCount()) >= 6, 30_000, 'the follow-up timers to be back', 100);
    const delayed = await stack.queues.followUps.getDelayed();
    expect(delayed.map((j) => j.data.kind).sort()).toEqual(['due', 'due', 'due', 'reminder', 'reminder', 'reminder']);
    const view = await request(stack.app).get(`/v1/courses/${courseId}`).expect(200);
    expect(view.body.followUps.every((f: { status: string }) => f.status === 'scheduled')).toBe(true);
  });
});

describe('a transaction the EHR answers 409 as a whole', () => {
  it('goes again as it was (a serialisation conflict wrote nothing), without re-reading the EHR, and lands once', async () => {
    const searches: string[] = [];
    const ehrFetch: typeof fetch = (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      if ((init?.method ?? 'GET') === 'GET' && url.includes('?')) searches.push(url);
      return fetch(input, init);
    };
    const stack = await startStack({ FOLLOW_UP_OFFSETS: 'PT1H,PT2H,PT3H' }, { ehrFetch });
    try {
      stack.sandbox.sandbox.injectFault({ status: 409, count: 2, match: 'transaction' });
      stack.startWorker();
      await enrol(stack);
      await expectExactlyOnce(stack);
      expect(statusCount(stack, 409)).toBe(2);
      // A re-read would search each type by identity; the Bundle was only sent again.
      expect(searches).toEqual([]);
    } finally {
      await stack.close();
    }
  });
});
