import {
  countPending,
  enqueueOutbox,
  enqueueOutboxMany,
  forgetDispatches,
  getOutboxMessage,
  getOutboxMessageByKey,
  listUndispatched,
  markCompleted,
  markCompletedWithCovered,
  markDispatched,
  onOutboxWork,
  recordFailedAttempt,
} from './outbox';
import { putResources, readResource } from './resources';
import { openTestDb, type TestDb } from './test-support';

describe('outbox', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb('store_outbox');
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it('an enqueue inside a rolled-back transaction leaves nothing, data included', async () => {
    await expect(
      t.db.transaction(async (tx) => {
        await putResources(tx, [{ resourceType: 'Patient', id: 'p-rb' }]);
        await enqueueOutbox(tx, { topic: 'ehr-sync', patientId: 'p-rb', payload: { patientId: 'p-rb' } });
        expect(await tx.query('SELECT id FROM outbox WHERE completed_at IS NULL')).toHaveLength(1);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await countPending(t.deployment)).toBe(0);
    expect(await readResource(t.db, 'Patient', 'p-rb')).toBeUndefined();
  });

  it('commits with the data, then goes through dispatch, failure and completion', async () => {
    const row = await t.db.transaction(async (tx) => {
      await putResources(tx, [{ resourceType: 'Patient', id: 'p-ok' }]);
      return enqueueOutbox(tx, { topic: 'ehr-sync', patientId: 'p-ok', payload: { patientId: 'p-ok', refs: ['Patient/p-ok'] } });
    });
    expect(row).toMatchObject({ topic: 'ehr-sync', patientId: 'p-ok', attempts: 0, dispatchedAt: null, completedAt: null });
    expect(typeof row.id).toBe('number');
    const later = await enqueueOutbox(t.db, { topic: 'notify', payload: { id: 'x' }, availableAt: new Date(Date.now() + 3_600_000) });

    expect((await listUndispatched(t.deployment, { limit: 10 })).map((r) => r.id)).toEqual([row.id]);
    expect(await countPending(t.deployment)).toBe(2);

    await markDispatched(t.deployment, [{ id: row.id, jobIds: ['ehr-sync-a'] }]);
    expect(await listUndispatched(t.deployment, { limit: 10 })).toEqual([]);
    expect((await getOutboxMessage(t.db, row.id))?.jobIds).toEqual(['ehr-sync-a']);
    // Dispatched long enough ago (here: any time before now) means the job may be lost.
    await t.db.query("UPDATE outbox SET dispatched_at = now() - interval '10 minutes' WHERE id = $1", [row.id]);
    expect(await listUndispatched(t.deployment, { limit: 10, olderThanMs: 60 * 60 * 1000 })).toEqual([]);
    expect((await listUndispatched(t.deployment, { limit: 10, olderThanMs: 5 * 60 * 1000 })).map((r) => r.id)).toEqual([row.id]);

    await recordFailedAttempt(t.deployment, row.key, 'EHR 503');
    await recordFailedAttempt(t.deployment, row.key, 'EHR 502');
    expect(await getOutboxMessage(t.db, row.id)).toMatchObject({ attempts: 2, lastError: 'EHR 502' });

    expect(await markCompleted(t.db, '00000000-0000-4000-8000-000000000000')).toBe(false);
    expect(await markCompleted(t.db, row.key)).toBe(true);
    expect(await listUndispatched(t.deployment, { limit: 10, olderThanMs: 0 })).toEqual([]);
    expect(await countPending(t.deployment)).toBe(1);
    expect((await getOutboxMessage(t.db, later.id))?.completedAt).toBeNull();
  });

  it("completes a job's own row and the rows its work covered in one statement, counting only those still open", async () => {
    const [own, covered, done] = await enqueueOutboxMany(
      t.db,
      ['own', 'covered', 'done'].map((n) => ({ topic: 'ehr-sync', patientId: 'p-cover', payload: { patientId: 'p-cover', n } })),
    );
    if (!own || !covered || !done) throw new Error('three rows expected');
    await markCompleted(t.db, done.key);
    const doneAt = (await getOutboxMessage(t.db, done.id))?.completedAt;

    expect(await markCompletedWithCovered(t.db, own.key, [own.id, covered.id, done.id])).toEqual({ held: true, alsoCompleted: 1 });
    for (const row of [own, covered]) expect((await getOutboxMessage(t.db, row.id))?.completedAt).not.toBeNull();
    expect((await getOutboxMessage(t.db, done.id))?.completedAt).toBe(doneAt);
    // Again: the own row is still held (already completed), nothing else was open.
    expect(await markCompletedWithCovered(t.db, own.key, [covered.id])).toEqual({ held: true, alsoCompleted: 0 });
    expect(await markCompletedWithCovered(t.db, '00000000-0000-4000-8000-00000000c0de', [])).toEqual({ held: false, alsoCompleted: 0 });
  });

  it('announces new rows once their transaction commits, and only to listeners of this schema', async () => {
    const heard: string[] = [];
    let woken!: () => void;
    const woke = new Promise<void>((r) => (woken = r));
    const stop = await onOutboxWork(t.deployment, () => {
      heard.push('work');
      woken();
    });
    try {
      const rows = await t.db.transaction(async (tx) => {
        const added = [
          await enqueueOutbox(tx, { topic: 'notify', payload: { n: 'a' } }),
          await enqueueOutbox(tx, { topic: 'notify', payload: { n: 'b' } }),
        ];
        // Another schema's commit on the same server wakes nobody here.
        await t.db.query("SELECT pg_notify('kap_outbox', 'some_other_schema')");
        expect(heard).toEqual([]);
        return added;
      });
      await woke;
      for (const row of rows) await markCompleted(t.db, row.key);
    } finally {
      await stop();
    }
  });

  it('lists oldest first and honours the limit', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push((await enqueueOutbox(t.db, { topic: 'follow-ups', payload: { n: i } })).id);
    expect((await listUndispatched(t.deployment, { limit: 2 })).map((r) => r.id)).toEqual(ids.slice(0, 2));
    await markDispatched(
      t.deployment,
      ids.map((id) => ({ id, jobIds: [`j-${id}`] })),
    );
    await markDispatched(t.deployment, []);
    expect(await listUndispatched(t.deployment, { limit: 10 })).toEqual([]);
  });

  it('never lets rows due a recheck hold back new ones: each kind fills its own limit', async () => {
    const stale: number[] = [];
    for (let i = 0; i < 3; i++) stale.push((await enqueueOutbox(t.db, { topic: 'follow-ups', payload: { n: i } })).id);
    await markDispatched(
      t.deployment,
      stale.map((id) => ({ id, jobIds: [`j-${id}`] })),
    );
    await t.db.query("UPDATE outbox SET dispatched_at = now() - interval '10 minutes' WHERE id = ANY($1::bigint[])", [stale]);
    const fresh = (await enqueueOutbox(t.db, { topic: 'follow-ups', payload: { n: 3 } })).id;
    expect((await listUndispatched(t.deployment, { limit: 2, olderThanMs: 60_000 })).map((r) => r.id)).toEqual([stale[0], stale[1], fresh]);
    expect((await listUndispatched(t.deployment, { limit: 2 })).map((r) => r.id)).toEqual([fresh]);
    await t.db.query('UPDATE outbox SET completed_at = now() WHERE id = ANY($1::bigint[])', [[...stale, fresh]]);
  });

  it("writes a command's messages in one statement, in the order given, or none of them", async () => {
    const later = new Date(Date.now() + 3_600_000);
    const rows = await enqueueOutboxMany(t.db, [
      { topic: 'ehr-sync', patientId: 'p-many', payload: { n: 1 } },
      { topic: 'notify', payload: { n: 2 }, availableAt: later },
      { topic: 'follow-up-schedule', patientId: 'p-many', payload: { n: 3 } },
    ]);
    expect(rows.map((r) => [r.topic, r.patientId, r.payload])).toEqual([
      ['ehr-sync', 'p-many', { n: 1 }],
      ['notify', null, { n: 2 }],
      ['follow-up-schedule', 'p-many', { n: 3 }],
    ]);
    expect(rows[0]!.id).toBeLessThan(rows[1]!.id);
    expect(rows[1]!.id).toBeLessThan(rows[2]!.id);
    expect(rows[1]!.availableAt).toBe(later.toISOString());
    expect(new Set(rows.map((r) => r.key)).size).toBe(3);
    expect(await enqueueOutboxMany(t.db, [])).toEqual([]);
    await expect(
      enqueueOutboxMany(t.db, [
        { topic: 'notify', payload: { n: 4 } },
        { topic: 'notify', payload: { n: 5 }, availableAt: 'not a time' },
      ]),
    ).rejects.toThrow('Not a valid instant');
    expect((await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE payload->>'n' = '4'"))[0]?.n).toBe(0);
    await t.db.query('UPDATE outbox SET completed_at = now() WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id)]);
  });

  it('gives every row a key of its own, which finds it, and which no serial reuse repeats', async () => {
    const a = await enqueueOutbox(t.db, { topic: 'notify', payload: { n: 1 } });
    const b = await enqueueOutbox(t.db, { topic: 'notify', payload: { n: 2 } });
    expect(a.key).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.key).not.toBe(b.key);
    expect((await getOutboxMessageByKey(t.db, b.key))?.id).toBe(b.id);
    expect(await getOutboxMessageByKey(t.db, 'ehr-sync-12')).toBeUndefined();
  });

  it('forgets open dispatches, so all of them go out again under new ids, and leaves finished and dead rows alone', async () => {
    const open = await enqueueOutbox(t.db, { topic: 'notify', payload: { n: 'open' } });
    const done = await enqueueOutbox(t.db, { topic: 'notify', payload: { n: 'done' } });
    await markDispatched(t.deployment, [
      { id: open.id, jobIds: ['x'] },
      { id: done.id, jobIds: ['y'] },
    ]);
    await markCompleted(t.db, done.key);
    expect(await forgetDispatches(t.deployment)).toBeGreaterThanOrEqual(1);
    expect(await getOutboxMessage(t.db, open.id)).toMatchObject({ dispatchedAt: null, jobIds: [] });
    expect(await getOutboxMessage(t.db, done.id)).toMatchObject({ jobIds: ['y'] });
    expect((await getOutboxMessage(t.db, done.id))?.dispatchedAt).not.toBeNull();
  });
});
