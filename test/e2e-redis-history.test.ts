/**
 * Delivery on a Redis with a history: another install's jobs under the same prefix, two
 * installs at once, a database restored from an older backup, Redis flushed or restarted
 * without persistence mid-course. Afterwards everything accepted is in the EHR exactly once
 * and sync-status shows nothing pending. Real Redis, PostgreSQL and the sandbox EHR.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { QUEUE_NAMES, checkOwnership, databaseFingerprint } from '@kap/queue';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import request from 'supertest';
import { until } from '@kap/testkit/poll';
import { enrol, expectExactlyOnce, syncStatus } from '@kap/testkit/course';
import { TEST_DATABASE_URL, uniqueSchema } from '@kap/testkit/postgres';
import { TEST_REDIS_URL, startStack, type Stack } from '@kap/testkit/stack';

jest.setTimeout(240_000);

/** Long follow-up offsets: these tests are about EHR writes and job identity, not timers. */
const ENV = { FOLLOW_UP_OFFSETS: 'PT1H,PT2H,PT3H' };

const stacks: Stack[] = [];
async function stackOf(...args: Parameters<typeof startStack>): Promise<Stack> {
  const stack = await startStack(...args);
  stacks.push(stack);
  return stack;
}
afterEach(async () => {
  for (const s of stacks.splice(0).reverse()) await s.close();
});

async function finishCourse(stack: Stack, courseId: string): Promise<void> {
  await request(stack.app)
    .post(`/v1/courses/${courseId}/goals-of-care`)
    .send({
      discussedAt: new Date().toISOString(),
      participants: ['patient', 'palliative physician'],
      values: ['being at home'],
      goals: [{ description: 'Remain at home' }],
    })
    .expect(201);
  await request(stack.app).post(`/v1/courses/${courseId}/stop`).send({ reason: 'completed' }).expect(200);
}

/** Leaves finished and failed jobs under `prefix` with the ids an old install's serials gave them. */
async function plantOldJobs(prefix: string): Promise<void> {
  const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE_NAMES.ehrSync, { connection, prefix });
  for (let i = 1; i <= 40; i++) {
    await queue.add(
      'sync',
      { patientId: `old-${i}`, outboxKey: '00000000-0000-4000-8000-000000000000' },
      { jobId: `ehr-sync-${i}`, attempts: 1 },
    );
  }
  const worker = new Worker(
    QUEUE_NAMES.ehrSync,
    async (job) => {
      if (Number(job.id?.split('-').pop()) % 3 === 0) throw new Error('old install: EHR refused');
      return 'old install: done';
    },
    { connection, prefix },
  );
  await until(
    async () => {
      const c = await queue.getJobCounts('completed', 'failed');
      return (c.completed ?? 0) + (c.failed ?? 0) === 40;
    },
    20_000,
    'the old jobs to finish',
  );
  await worker.close();
  await queue.close();
  connection.disconnect();
}

describe('job identity on a Redis with history', () => {
  it("a fresh database on a Redis that holds another install's completed and failed jobs under the same prefix", async () => {
    const base = `hist-${uniqueSchema('p')}`;
    const old = await stackOf(ENV, { queuePrefixBase: base, keepRedisKeys: true });
    old.startWorker();
    await enrol(old);
    await enrol(old);
    await until(async () => (await syncStatus(old)).pending === 0, 60_000, 'the old install to finish');
    await old.stopWorkers();
    expect((await old.queues.ehrSync.getJobCounts('completed')).completed).toBeGreaterThan(0);

    const fresh = await stackOf(ENV, { queuePrefixBase: base });
    // Even under the fresh install's own keys, jobs with the ids a reused serial would give.
    await plantOldJobs(fresh.prefix);
    fresh.startWorker();
    const courseId = await enrol(fresh);
    await finishCourse(fresh, courseId);
    await expectExactlyOnce(fresh);
    expect(fresh.sandbox.sandbox.stats().resources.Patient).toBe(1);
  });

  it('two installs (two databases) sharing one Redis at the same time each reach their own EHR', async () => {
    const base = `twin-${uniqueSchema('p')}`;
    const a = await stackOf(ENV, { queuePrefixBase: base });
    const b = await stackOf(ENV, { queuePrefixBase: base });
    expect(a.prefix).not.toBe(b.prefix);
    a.startWorker();
    b.startWorker();
    const [courseA, courseB] = await Promise.all([enrol(a), enrol(b)]);
    await Promise.all([finishCourse(a, courseA), finishCourse(b, courseB), enrol(a)]);
    await expectExactlyOnce(a);
    await expectExactlyOnce(b);
    expect(a.sandbox.sandbox.stats().resources.Patient).toBe(2);
    expect(b.sandbox.sandbox.stats().resources.Patient).toBe(1);
  });
});

/** Asks for a reconciliation and waits for its report. */
async function reconcile(
  stack: Stack,
  body: object = {},
): Promise<{
  summary: { inEhr: number; missing: number; different: number };
  resources: Array<{ resource: string; ehr: string; status: string; requeued: boolean }>;
}> {
  const started = await request(stack.app).post('/v1/admin/reconcile').send(body).expect(202);
  let report: request.Response | undefined;
  await until(
    async () => {
      report = await request(stack.app).get(`/v1/admin/reconcile/${started.body.reconciliationId}`).expect(200);
      return report.body.status !== 'running';
    },
    60_000,
    'the reconciliation',
  );
  expect(report?.body.status).toBe('finished');
  return report?.body;
}

describe('reconciliation against what the EHR really holds', () => {
  it("finds what the EHR lost or changed behind the adapter's back, and sends it again", async () => {
    const stack = await stackOf(ENV);
    stack.startWorker();
    const courseId = await enrol(stack);
    await finishCourse(stack, courseId);
    await stack.drained(90_000);
    const clean = await reconcile(stack);
    expect(clean.summary).toMatchObject({ missing: 0, different: 0 });

    // Someone at the hospital deletes the CarePlan and edits a Goal, bypassing the adapter.
    const [carePlan] = clean.resources.filter((r) => r.resource.startsWith('CarePlan/'));
    const [goal] = clean.resources.filter((r) => r.resource.startsWith('Goal/'));
    if (!carePlan || !goal) throw new Error('expected a CarePlan and a Goal in the report');
    const ehr = stack.sandbox.url;
    expect((await fetch(`${ehr}/${carePlan.ehr}`, { method: 'DELETE' })).status).toBeLessThan(300);
    const goalCopy = (await (await fetch(`${ehr}/${goal.ehr}`)).json()) as { description: { text: string } };
    goalCopy.description.text = 'changed in the EHR';
    expect(
      (
        await fetch(`${ehr}/${goal.ehr}`, {
          method: 'PUT',
          headers: { 'Content-Type': 'application/fhir+json' },
          body: JSON.stringify(goalCopy),
        })
      ).status,
    ).toBe(200);

    const found = await reconcile(stack);
    const off = found.resources.filter((r) => r.status !== 'in-ehr');
    expect(off.map((r) => [r.resource, r.status, r.requeued])).toEqual(
      expect.arrayContaining([
        [carePlan.resource, 'missing', true],
        [goal.resource, 'different', true],
      ]),
    );
    // What pointed at the deleted CarePlan in the EHR points at nothing now: different too, and sent again.
    expect(found.summary.missing).toBe(1);
    expect(found.summary.different).toBeGreaterThan(1);
    expect(off.every((r) => r.requeued)).toBe(true);
    await expectExactlyOnce(stack, { ehrMayHoldMore: true });
    expect((await reconcile(stack)).summary).toMatchObject({ missing: 0, different: 0 });
  });
});

/** A restore from a backup, as pg_dump and psql make one: the schema's tables and sequences as they were. */
function backupSchema(from: string, to: string): void {
  const dump = execFileSync('pg_dump', ['--no-owner', '--no-privileges', `--schema=${from}`, TEST_DATABASE_URL], {
    maxBuffer: 256 * 1024 * 1024,
  }).toString();
  // Schema names are random and unique, so renaming them in the dump is exact.
  execFileSync('psql', ['-q', '-v', 'ON_ERROR_STOP=1', TEST_DATABASE_URL], {
    input: dump.split(from).join(to),
    stdio: ['pipe', 'ignore', 'pipe'],
  });
}

describe('a database restored from an older backup', () => {
  it('dispatches its open work anew, trusting none of the jobs of the lost timeline, and reconciles the EHR', async () => {
    const base = `restore-${uniqueSchema('p')}`;
    const live = await stackOf(ENV, { queuePrefixBase: base, behindProxy: true, keepRedisKeys: true });
    // The EHR is down at backup time, so rows are dispatched and their jobs still retrying.
    await live.proxy?.down();
    live.startWorker();
    const courseId = await enrol(live);
    await until(
      async () => {
        const [row] = await live.db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE dispatched_at IS NULL');
        return row?.n === 0;
      },
      20_000,
      'every row dispatched',
    );
    const backup = uniqueSchema('e2e_backup');
    backupSchema(live.config.DATABASE_SCHEMA as string, backup);

    // The lost timeline: the EHR comes back, those jobs complete, the course goes on.
    await live.proxy?.up();
    await finishCourse(live, courseId);
    await live.drained(90_000);
    await live.stopWorkers();

    const restored = await stackOf(ENV, { schema: backup, queuePrefixBase: base, sandbox: live.sandbox });
    expect(restored.prefix).toBe(live.prefix);
    // The restored database's rows name jobs that Redis holds as completed; none may complete them.
    const open = await restored.db.query<{ job_ids: string[] }>(
      "SELECT job_ids FROM outbox WHERE topic = 'ehr-sync' AND completed_at IS NULL",
    );
    expect(open.length).toBeGreaterThan(0);
    restored.startWorker();
    await restored.drained(90_000);
    // The restored database is the truth again: its copies replaced the lost timeline's newer ones, as reconciliation confirms.
    const report = await reconcile(restored);
    expect(report.summary).toMatchObject({ missing: 0, different: 0 });
    expect(report.summary.inEhr).toBeGreaterThan(20);
    await expectExactlyOnce(restored, { ehrMayHoldMore: true });
    expect(restored.sandbox.sandbox.stats().resources.Patient).toBe(1);
  });

  it('is recognised by its fingerprint: Redis has seen rows the database does not hold', async () => {
    const base = `fp-${uniqueSchema('p')}`;
    const live = await stackOf(ENV, { queuePrefixBase: base, keepRedisKeys: true });
    const backup = uniqueSchema('e2e_backup');
    backupSchema(live.config.DATABASE_SCHEMA as string, backup);
    live.startWorker();
    await enrol(live);
    await live.drained(90_000);
    await live.stopWorkers();
    const fingerprint = await databaseFingerprint(live.db);
    const restoredDb = (await stackOf(ENV, { schema: backup, queuePrefixBase: base })).db;
    const before = await databaseFingerprint(restoredDb);
    expect(before.deploymentId).toBe(fingerprint.deploymentId);
    expect(before.outboxHighWater).toBeLessThan(fingerprint.outboxHighWater);
    const redis = new Redis(TEST_REDIS_URL);
    try {
      // The stack adopted Redis at start (as a worker does): the record now names the restored database.
      expect(await checkOwnership(redis, live.prefix, before)).toEqual({ status: 'ours' });
      expect(await checkOwnership(redis, live.prefix, { ...before, deploymentId: '11111111-1111-4111-8111-111111111111' })).toMatchObject({
        status: 'foreign',
      });
    } finally {
      redis.disconnect();
    }
  });
});

/** A Redis of this test's own, on a free port, keeping nothing on disk: restarting it loses every key. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}
function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Ready to accept connections')) resolve(child);
    });
  });
}

describe('Redis losing everything mid-course', () => {
  it('flushed mid-course', async () => {
    const stack = await stackOf(ENV);
    stack.startWorker();
    const courseId = await enrol(stack);
    await stack.flushQueues();
    await finishCourse(stack, courseId);
    await stack.flushQueues();
    await enrol(stack);
    await expectExactlyOnce(stack);
  });

  it('restarted without persistence mid-course', async () => {
    const port = await freePort();
    let redis = await startRedis(port);
    const stack = await startStack(ENV, { redisUrl: `redis://127.0.0.1:${port}` });
    try {
      stack.startWorker();
      const courseId = await enrol(stack);
      redis.kill('SIGKILL');
      await new Promise((r) => redis.once('exit', r));
      // While Redis is away nothing is accepted: 503, and nothing stored.
      await request(stack.app)
        .post(`/v1/courses/${courseId}/goals-of-care`)
        .send({
          discussedAt: new Date().toISOString(),
          participants: ['patient'],
          values: ['comfort'],
          goals: [{ description: 'Comfort' }],
        })
        .expect(503);
      redis = await startRedis(port);
      await until(
        async () => (await request(stack.app).post(`/v1/courses/${courseId}/stop`).send({ reason: 'completed' })).status === 200,
        30_000,
        'Redis back',
      );
      await enrol(stack);
      await expectExactlyOnce(stack);
      // The empty Redis lost the follow-up timers of the second course too, and they are back.
      await until(async () => (await stack.queues.followUps.getDelayedCount()) >= 6, 30_000, 'the timers re-dispatched');
    } finally {
      await stack.close();
      redis.kill('SIGKILL');
    }
  });
});
