import { acquireLease, releaseLease } from './leases';
import { enqueueOutbox, getOutboxMessage, listDeadLetters, listUndispatched, markDead, markDispatched, redriveDeadLetter } from './outbox';
import { openTestDb, type TestDb } from './test-support';

describe('sync leases and dead letters', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb('leases');
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it('gives a lease to one holder at a time, and to another once it expires or is released', async () => {
    expect(await acquireLease(t.db, 'patient/a', 'w1', 60_000)).toBe(true);
    expect(await acquireLease(t.db, 'patient/a', 'w2', 60_000)).toBe(false);
    expect(await acquireLease(t.db, 'patient/a', 'w1', 60_000)).toBe(true);
    await releaseLease(t.db, 'patient/a', 'w2');
    expect(await acquireLease(t.db, 'patient/a', 'w2', 60_000)).toBe(false);
    await releaseLease(t.db, 'patient/a', 'w1');
    expect(await acquireLease(t.db, 'patient/a', 'w2', 1)).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(await acquireLease(t.db, 'patient/a', 'w3', 60_000)).toBe(true);
  });

  it('lets exactly one of many concurrent holders win', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => acquireLease(t.db, 'patient/b', `w${i}`, 60_000)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('keeps a dead letter out of the relay until it is re-driven', async () => {
    const row = await enqueueOutbox(t.db, { topic: 'ehr-sync', patientId: 'p', payload: { patientId: 'p' } });
    await markDispatched(t.deployment, [{ id: row.id, jobIds: ['ehr-sync-x'] }]);
    await markDead(t.db, row.id, 'EHR answered 422');
    expect((await listUndispatched(t.deployment, { limit: 100, olderThanMs: 0 })).map((r) => r.id)).not.toContain(row.id);
    expect(await listDeadLetters(t.db, { limit: 10 })).toEqual([expect.objectContaining({ id: row.id, lastError: 'EHR answered 422' })]);
    expect(await redriveDeadLetter(t.db, row.id)).toMatchObject({ id: row.id, deadAt: null, dispatchedAt: null });
    expect(await redriveDeadLetter(t.db, row.id)).toBeUndefined();
    expect((await listUndispatched(t.deployment, { limit: 100 })).map((r) => r.id)).toContain(row.id);
    expect((await getOutboxMessage(t.db, row.id))?.attempts).toBe(0);
  });
});
