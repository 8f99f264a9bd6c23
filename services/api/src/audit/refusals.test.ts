import type { DeploymentDb, DeploymentAuditCount } from '@kap/store';
import pino from 'pino';
import { MAX_KEYS_PER_MINUTE, RefusalLog, claimedClient } from './refusals';

const jwt = (payload: unknown) => `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.c2ln`;

/** Only what RefusalLog calls: the rows it would add, in memory (the SQL is exercised end to end in test/e2e-tenant-ops). */
function recordingDb(): { db: DeploymentDb; added: DeploymentAuditCount[] } {
  const added: DeploymentAuditCount[] = [];
  const tx = {
    query: async (_sql: string, params: unknown[]) => {
      const [windowStart, kind, clientId, address, reason, count, firstAt, lastAt] = params as [
        string,
        string,
        string,
        string,
        string,
        number,
        string,
        string,
      ];
      added.push({ windowStart, kind, clientId, address, reason, count, firstAt, lastAt });
      return [];
    },
  };
  return { db: { transaction: (fn: (t: unknown) => Promise<unknown>) => fn(tx) } as unknown as DeploymentDb, added };
}

describe('refused tokens for the deployment', () => {
  it('names the client a token claims (client_id, azp, sub), unverified and cut short; nothing for what is no JWT', () => {
    expect(claimedClient(jwt({ client_id: 'a', azp: 'b', sub: 'c' }))).toBe('a');
    expect(claimedClient(jwt({ azp: 'b', sub: 'c' }))).toBe('b');
    expect(claimedClient(jwt({ sub: 'c' }))).toBe('c');
    expect(claimedClient(jwt({ client_id: 'x\u0000y\n' }))).toBe('x?y?');
    expect(claimedClient(jwt({ client_id: 'z'.repeat(300) }))).toHaveLength(128);
    expect(claimedClient('not-a-token')).toBe('');
    expect(claimedClient(undefined)).toBe('');
  });

  it('counts alike refusals in one row a minute, and past the key budget folds the rest into one overflow row', async () => {
    const { db, added } = recordingDb();
    const log = new RefusalLog({ db, flushMs: 60_000, logger: pino({ level: 'silent' }) });
    const at = new Date('2026-03-01T10:00:10Z');
    for (let i = 0; i < 3; i++) log.record({ token: jwt({ client_id: 'ward-app' }), address: '10.0.0.1', reason: 'expired', at });
    for (let i = 0; i < MAX_KEYS_PER_MINUTE + 50; i++)
      log.record({ token: jwt({ client_id: `flood-${i}` }), address: '10.0.0.2', reason: 'bad', at });
    await log.close();
    expect(added.find((r) => r.clientId === 'ward-app')).toMatchObject({
      count: 3,
      windowStart: '2026-03-01T10:00:00.000Z',
      kind: 'token-refused',
    });
    expect(added).toHaveLength(MAX_KEYS_PER_MINUTE + 1);
    expect(added.find((r) => /more distinct/.test(r.reason))).toMatchObject({ clientId: '', address: '', count: 51 });
    expect(added.reduce((n, r) => n + r.count, 0)).toBe(3 + MAX_KEYS_PER_MINUTE + 50);
    expect(JSON.stringify(added)).not.toContain('eyJ');
  });
});
