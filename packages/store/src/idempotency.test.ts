import {
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
    await t.db.query('CREATE TABLE race_work (n int)');
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
