import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  findIdempotentResponse,
  IdempotencyKeyTaken,
  purgeExpiredIdempotencyKeys,
  saveIdempotentResponse,
} from './idempotency';
import { openTestDb, type TestDb } from './test-support';

describe('idempotency keys', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb('store_idempotency');
  });
  afterAll(async () => {
    await t.cleanup();
  });

  const response = { scope: 'client-a POST /v1/screenings', key: 'k1', requestHash: 'h1', status: 201, body: { screeningId: 's1' } };

  it('saves and finds a response; a second save of the key throws IdempotencyKeyTaken', async () => {
    expect(await findIdempotentResponse(t.db, response.scope, response.key)).toBeUndefined();
    await saveIdempotentResponse(t.db, response);
    expect(await findIdempotentResponse(t.db, response.scope, response.key)).toEqual({
      requestHash: 'h1',
      status: 201,
      body: { screeningId: 's1' },
      endpoint: '',
      response: '{"screeningId":"s1"}',
      headers: null,
    });
    const error = await saveIdempotentResponse(t.db, { ...response, requestHash: 'h2' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdempotencyKeyTaken);
    expect(error).toMatchObject({ scope: response.scope, key: 'k1' });
    // Scopes keep keys apart.
    await saveIdempotentResponse(t.db, { ...response, scope: 'client-b POST /v1/screenings' });
  });

  it('ignores, replaces and purges rows older than 24 hours', async () => {
    const old = { ...response, key: 'old' };
    await saveIdempotentResponse(t.db, old);
    await t.db.query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'old'");
    expect(await findIdempotentResponse(t.db, old.scope, 'old')).toBeUndefined();
    await saveIdempotentResponse(t.db, { ...old, requestHash: 'fresh', status: 200 });
    expect(await findIdempotentResponse(t.db, old.scope, 'old')).toMatchObject({ requestHash: 'fresh', status: 200 });

    await t.db.query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'old'");
    expect(await purgeExpiredIdempotencyKeys(t.db)).toBe(1);
    expect(await t.db.query("SELECT 1 FROM idempotency_keys WHERE key = 'old'")).toHaveLength(0);
  });

  it('lets exactly one of 8 concurrent transactions take a key; the others roll back', async () => {
    const key = 'race';
    await t.deployment.query('CREATE TABLE race_work (n int)');
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        t.db
          .transaction(async (tx) => {
            // Overlap the transactions before they race for the key.
            await tx.query('SELECT pg_sleep(0.01)');
            // The request's work, which must not survive for the losers.
            await tx.query('INSERT INTO race_work (n) VALUES ($1)', [i]);
            await saveIdempotentResponse(tx, { ...response, key, requestHash: `h${i}` });
            return 'won' as const;
          })
          .catch((error: unknown) => {
            if (error instanceof IdempotencyKeyTaken) return 'taken' as const;
            throw error;
          }),
      ),
    );
    expect(outcomes.filter((o) => o === 'won')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'taken')).toHaveLength(7);
    expect(await t.db.query('SELECT n FROM race_work')).toHaveLength(1);
  });

  it('makes a second claim of a key wait for the first transaction, and keeps the endpoint and the bytes sent', async () => {
    const claim = { scope: response.scope, key: 'wait', requestHash: 'h', endpoint: 'POST /v1/courses' };
    let releaseFirst!: () => void;
    const firstMayCommit = new Promise<void>((r) => (releaseFirst = r));
    let firstClaimed!: () => void;
    const claimed = new Promise<void>((r) => (firstClaimed = r));
    const first = t.db.transaction(async (tx) => {
      await claimIdempotencyKey(tx, claim);
      firstClaimed();
      await firstMayCommit;
      await completeIdempotencyKey(tx, {
        scope: claim.scope,
        key: claim.key,
        status: 201,
        body: { b: 1, a: 2 },
        response: '{"b":1,"a":2}',
      });
    });
    await claimed;
    // Not visible while the claim is uncommitted, so no half-done replay is ever served.
    expect(await findIdempotentResponse(t.db, claim.scope, claim.key)).toBeUndefined();
    const second = t.db.transaction((tx) => claimIdempotencyKey(tx, claim)).catch((e: unknown) => e);
    releaseFirst();
    await first;
    expect(await second).toBeInstanceOf(IdempotencyKeyTaken);
    expect(await findIdempotentResponse(t.db, claim.scope, claim.key)).toMatchObject({
      status: 201,
      endpoint: 'POST /v1/courses',
      response: '{"b":1,"a":2}',
    });
  });

  it('frees the key when the transaction that saved it rolls back', async () => {
    await expect(
      t.db.transaction(async (tx) => {
        await saveIdempotentResponse(tx, { ...response, key: 'rb' });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await findIdempotentResponse(t.db, response.scope, 'rb')).toBeUndefined();
    await saveIdempotentResponse(t.db, { ...response, key: 'rb' });
  });
});
