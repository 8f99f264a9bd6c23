import { loadConfig } from '@kap/config';
import { createEhrClient } from '@kap/ehr-client';
import { QUEUE_NAMES, WORK, createQueues, enqueueWork, workerConnection, type Queues } from '@kap/queue';
import {
  enqueueOutbox,
  forTenant,
  getOutboxMessage,
  markPending,
  openDatabase,
  putResources,
  type DeploymentDb,
  type TenantDb,
} from '@kap/store';
import type { Observation } from '@medplum/fhirtypes';
import { Worker } from 'bullmq';
import pino from 'pino';
import { until } from '@kap/testkit/poll';
import { TEST_DATABASE_URL, dropSchema, uniqueSchema } from '@kap/testkit/postgres';
import type { WorkerDeps } from './deps';
import { relayOnce } from './relay';
import { sweepStaleOnce } from './stale-sweep';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const LIMITS = { syncAttempts: 3, webhookAttempts: 3 };

describe('the outbox relay, over the work registry (real PostgreSQL and Redis)', () => {
  const schema = uniqueSchema('relay');
  const prefix = `test-${schema}`;
  let db: DeploymentDb;
  /** The default tenant's handle: work is written as a tenant, the relay reads it as the deployment. */
  let tenant: TenantDb;
  let queues: Queues;
  let deps: WorkerDeps;
  const redis = workerConnection(REDIS_URL);

  beforeAll(async () => {
    db = await openDatabase({ url: TEST_DATABASE_URL, schema });
    tenant = forTenant(db, 'default');
    queues = createQueues(redis, prefix);
    const config = loadConfig({ REDISPATCH_AFTER_MS: '1', SYNC_STALE_AFTER: 'PT1S' });
    deps = {
      config,
      db,
      queues,
      queuePrefix: prefix,
      redis,
      logger: pino({ level: 'silent' }),
      workerId: 'test',
      ehr: createEhrClient({ baseUrl: 'http://127.0.0.1:9/fhir', auth: { mode: 'none' }, timeoutMs: 1000 }),
    };
  });
  afterAll(async () => {
    await Promise.all(queues.all.map((q) => q.obliterate({ force: true })));
    await queues.close();
    redis.disconnect();
    await db.close();
    await dropSchema(schema);
  });

  it('dead-letters a row whose payload does not parse, with the reason, and dispatches the others', async () => {
    const bad = await enqueueOutbox(tenant, { topic: WORK.ehrSync.topic, payload: { patient: 'no id' } });
    const unknown = await enqueueOutbox(tenant, { topic: 'no-such-topic', payload: {} });
    const good = await enqueueWork(tenant, WORK.ehrSync, { patientId: 'p1', reason: 'test' }, { patientId: 'p1' });
    await relayOnce(deps, LIMITS);
    expect(await getOutboxMessage(db, bad.id)).toMatchObject({
      deadAt: expect.any(String),
      lastError: expect.stringMatching(/payload does not parse: patientId/),
    });
    expect(await getOutboxMessage(db, unknown.id)).toMatchObject({
      deadAt: expect.any(String),
      lastError: expect.stringMatching(/no-such-topic/),
    });
    const dispatched = await getOutboxMessage(db, good.id);
    expect(dispatched?.jobIds).toHaveLength(1);
    const job = await queues.ehrSync.getJob(dispatched?.jobIds[0] as string);
    expect(job?.data).toEqual({ patientId: 'p1', outboxKey: good.key, tenantId: 'default' });
  });

  it("hands each row's jobs the tenant of the row's own column, whatever the payload says", async () => {
    const north = forTenant(db, 'north');
    const pn = await enqueueWork(north, WORK.ehrSync, { patientId: 'pn', reason: 'test' }, { patientId: 'pn' });
    const timers = await enqueueWork(
      north,
      WORK.followUpSchedule,
      { followUpId: 'fn', dueBy: new Date(Date.now() + 60_000).toISOString(), remindAt: new Date(Date.now() + 30_000).toISOString() },
      {},
    );
    // Rows from before migration 20 carried a tenant in the payload too; only the column counts.
    const claimsSouth = await enqueueOutbox(north, {
      topic: WORK.ehrSync.topic,
      payload: { patientId: 'px', reason: 'test', tenantId: 'south' },
    });
    const forged = await enqueueOutbox(tenant, {
      topic: WORK.ehrSync.topic,
      payload: { patientId: 'py', reason: 'test', tenantId: 'North; DROP' },
    });
    await relayOnce(deps, LIMITS);
    const dataOf = async (id: number, queue = queues.ehrSync) =>
      Promise.all(((await getOutboxMessage(db, id))?.jobIds ?? []).map(async (jobId) => (await queue.getJob(jobId))?.data));
    expect(await dataOf(pn.id)).toEqual([{ patientId: 'pn', outboxKey: pn.key, tenantId: 'north' }]);
    expect((await dataOf(timers.id, queues.followUps)).map((d) => d.tenantId)).toEqual(['north', 'north']);
    expect(await dataOf(claimsSouth.id)).toEqual([{ patientId: 'px', outboxKey: claimsSouth.key, tenantId: 'north' }]);
    expect(await dataOf(forged.id)).toEqual([{ patientId: 'py', outboxKey: forged.key, tenantId: 'default' }]);
  });

  it("refuses an outbox row written through the deployment handle: it would be no tenant's work", async () => {
    await expect(
      db.query(`INSERT INTO outbox (topic, payload) VALUES ('ehr-sync', '{"patientId":"pz","reason":"test"}'::jsonb)`),
    ).rejects.toThrow(/a row of outbox needs a tenant/);
  });

  it('refuses at write time a payload the registry would not relay', async () => {
    await expect(
      enqueueWork(tenant, WORK.notify, { event: 'careplan.updated', resource: 'CarePlan/x', version: '1', url: 'not a url' }, {}),
    ).rejects.toThrow();
  });

  it("never completes a row from a job's state: a finished job whose row is open is dispatched again under new ids", async () => {
    const row = await enqueueWork(tenant, WORK.ehrSync, { patientId: 'p2', reason: 'test' }, { patientId: 'p2' });
    await relayOnce(deps, LIMITS);
    const first = (await getOutboxMessage(db, row.id))?.jobIds[0] as string;
    // The job ends without its processor completing the row (as another database's job would).
    const stranger = new Worker(QUEUE_NAMES.ehrSync, async () => 'not this row', { connection: redis, prefix });
    await until(async () => (await (await queues.ehrSync.getJob(first))?.getState()) === 'completed', 10_000, 'the job to finish');
    await stranger.close();
    await db.query("UPDATE outbox SET dispatched_at = now() - interval '1 minute' WHERE id = $1", [row.id]);
    await relayOnce(deps, LIMITS);
    const again = await getOutboxMessage(db, row.id);
    expect(again?.completedAt).toBeNull();
    expect(again?.jobIds).toHaveLength(1);
    expect(again?.jobIds[0]).not.toBe(first);
    expect(await queues.ehrSync.getJob(again?.jobIds[0] as string)).toBeDefined();
  });

  it("schedules a follow-up's two timers at their times, under ids of their own", async () => {
    const dueBy = new Date(Date.now() + 3_600_000).toISOString();
    const remindAt = new Date(Date.now() + 1_800_000).toISOString();
    const row = await enqueueWork(tenant, WORK.followUpSchedule, { followUpId: 'f1', dueBy, remindAt }, {});
    await relayOnce(deps, LIMITS);
    const ids = (await getOutboxMessage(db, row.id))?.jobIds ?? [];
    const jobs = await Promise.all(ids.map((id) => queues.followUps.getJob(id)));
    expect(jobs.map((j) => [j?.name, j?.data.kind])).toEqual([
      ['due', 'due'],
      ['reminder', 'reminder'],
    ]);
    expect(await Promise.all(jobs.map((j) => j?.getState()))).toEqual(['delayed', 'delayed']);
    expect(jobs[0]?.opts.delay).toBeGreaterThan(3_500_000);
  });

  it('looks up stale rows together: a timer lost from Redis is dispatched again, one still delayed is left alone', async () => {
    const dueBy = new Date(Date.now() + 3_600_000).toISOString();
    const remindAt = new Date(Date.now() + 1_800_000).toISOString();
    const kept = await enqueueWork(tenant, WORK.followUpSchedule, { followUpId: 'f-kept', dueBy, remindAt }, {});
    const lost = await enqueueWork(tenant, WORK.followUpSchedule, { followUpId: 'f-lost', dueBy, remindAt }, {});
    await relayOnce(deps, LIMITS);
    const keptIds = (await getOutboxMessage(db, kept.id))?.jobIds ?? [];
    const lostIds = (await getOutboxMessage(db, lost.id))?.jobIds ?? [];
    for (const id of lostIds) await queues.followUps.remove(id);
    await db.query("UPDATE outbox SET dispatched_at = now() - interval '1 minute' WHERE id = ANY($1::bigint[])", [[kept.id, lost.id]]);
    await relayOnce(deps, LIMITS);
    expect((await getOutboxMessage(db, kept.id))?.jobIds).toEqual(keptIds);
    const again = (await getOutboxMessage(db, lost.id))?.jobIds ?? [];
    expect(again).toHaveLength(2);
    expect(again.some((id) => lostIds.includes(id))).toBe(false);
    expect(await Promise.all(again.map((id) => queues.followUps.getJobState(id)))).toEqual(['delayed', 'delayed']);
  });

  it('the stale sweep asks for a sync of changes pending past SYNC_STALE_AFTER that no row is working on', async () => {
    const observation: Observation = {
      resourceType: 'Observation',
      id: 'o-stale',
      status: 'final',
      code: { text: 'x' },
      subject: { reference: 'Patient/p-stale' },
    };
    const [stored] = await putResources(tenant, [observation], { patientId: 'p-stale' });
    await markPending(tenant, [{ type: 'Observation', id: 'o-stale', version: Number(stored?.meta?.versionId) }]);
    await db.query("UPDATE resources SET last_updated = now() - interval '1 hour' WHERE id = 'o-stale'");
    expect(await sweepStaleOnce(deps)).toEqual(['p-stale']);
    // Asked for once: the open row is the work now.
    expect(await sweepStaleOnce(deps)).toEqual([]);
  });
});
