import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '@kap/config';
import { Redis } from 'ioredis';
import pino from 'pino';
import request from 'supertest';
import { startApiHarness, type ApiHarness } from '@kap/testkit/api-harness';
import { startTestIssuer, type TestIssuer } from '@kap/testkit/tokens';
import { redactFields } from './ops/redaction';
import { startApi } from './server';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('AUTH_MODE=none is for loopback only', () => {
  it('startApi refuses to serve an open API on a network address, and says why', async () => {
    const db = { kind: 'unused' } as never;
    await expect(startApi(loadConfig({ HOST: '0.0.0.0' }), db, pino({ level: 'silent' }))).rejects.toThrow(
      /AUTH_MODE=none[\s\S]*loopback[\s\S]*AUTH_MODE=jwt/,
    );
  });

  it('the standalone service refuses too, before starting anything', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kap-open-'));
    try {
      const main = resolve(__dirname, '../../standalone/dist/main.js');
      const run = promisify(execFile)(process.execPath, [main], {
        env: { PATH: process.env.PATH, HOST: '0.0.0.0', DATA_DIR: dataDir, LOG_LEVEL: 'silent' },
        timeout: 60_000,
      });
      await expect(run).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/AUTH_MODE=none[\s\S]*HOST=0\.0\.0\.0/) });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('security headers and CORS', () => {
  let issuer: TestIssuer;
  let closed: ApiHarness;
  let open: ApiHarness;
  const ALLOWED = 'https://kap.hospital.example';
  beforeAll(async () => {
    issuer = await startTestIssuer();
    closed = await startApiHarness({ env: issuer.env() });
    open = await startApiHarness({ env: { ...issuer.env(), CORS_ORIGINS: `${ALLOWED}, http://localhost:5173` } });
  });
  afterAll(async () => {
    await closed.close();
    await open.close();
    await issuer.close();
  });

  it('sends helmet headers on every response, errors included', async () => {
    for (const res of [
      await request(closed.app).get('/health'),
      await request(closed.app).get('/v1/courses/x'),
      await request(closed.app).get('/openapi.json'),
    ]) {
      expect(res.headers['content-security-policy']).toMatch(/default-src 'self'/);
      expect(res.headers['content-security-policy']).not.toMatch(/upgrade-insecure-requests/);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
    // The course page keeps its own, stricter policy.
    expect((await request(closed.app).get('/courses/any').expect(200)).headers['content-security-policy']).toMatch(/default-src 'none'/);
  });

  it('without CORS_ORIGINS, tells no browser of another origin it may read anything', async () => {
    const preflight = await request(closed.app)
      .options('/v1/screenings')
      .set('Origin', ALLOWED)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type');
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    const get = await request(closed.app).get('/health').set('Origin', ALLOWED).expect(200);
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('with CORS_ORIGINS, lets exactly those origins send Authorization and Idempotency-Key', async () => {
    const preflight = await request(open.app)
      .options('/v1/screenings')
      .set('Origin', ALLOWED)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,idempotency-key,content-type')
      .expect(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(preflight.headers['access-control-allow-headers']).toMatch(/Authorization/);
    expect(preflight.headers['access-control-allow-headers']).toMatch(/Idempotency-Key/);
    expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();
    const token = await issuer.mint({ scope: 'kap/v1.read' });
    const get = await request(open.app).get('/v1/courses/none').set('Origin', ALLOWED).set('Authorization', `Bearer ${token}`).expect(404);
    expect(get.headers['access-control-allow-origin']).toBe(ALLOWED);
    for (const origin of ['https://evil.example', 'https://kap.hospital.example.evil.example', 'http://kap.hospital.example']) {
      const other = await request(open.app).options('/v1/screenings').set('Origin', origin).set('Access-Control-Request-Method', 'POST');
      expect({ origin, allowed: other.headers['access-control-allow-origin'] }).toEqual({ origin, allowed: undefined });
    }
  });
});

describe('rate limits', () => {
  let issuer: TestIssuer;
  let redis: Redis;
  const harnesses: ApiHarness[] = [];
  beforeAll(async () => {
    issuer = await startTestIssuer();
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    for (const h of harnesses) await h.close();
    const keys = await redis.keys('kap-test-rate-*');
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await issuer.close();
  });
  const replica = async (prefix: string, env: Record<string, string>): Promise<ApiHarness> => {
    const h = await startApiHarness({ env: { ...issuer.env(), ...env }, rateLimits: { redis, prefix } });
    harnesses.push(h);
    return h;
  };

  it('two API replicas on one Redis share one client budget; past it, 429 with Retry-After as an OperationOutcome', async () => {
    const prefix = `kap-test-rate-${randomUUID()}`;
    const [a, b] = [await replica(prefix, { RATE_LIMIT_PER_MINUTE: '4' }), await replica(prefix, { RATE_LIMIT_PER_MINUTE: '4' })];
    const clinic = await issuer.mint({ scope: 'kap/v1.read', clientId: 'clinic-app' });
    const other = await issuer.mint({ scope: 'kap/v1.read', clientId: 'other-app' });
    const get = (h: ApiHarness, token: string) => request(h.app).get('/v1/courses/none').set('Authorization', `Bearer ${token}`);
    for (const h of [a, b, a, b]) await get(h, clinic).expect(404);
    const limited = await get(b, clinic).expect(429);
    expect(limited.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [expect.objectContaining({ code: 'throttled' })] });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
    await get(a, clinic).expect(429);
    // Another client of the same tenant has its own budget.
    await get(a, other).expect(404);
  });

  it('counts refused tokens per address before authentication, so a 401 flood is stopped too', async () => {
    const prefix = `kap-test-rate-${randomUUID()}`;
    const [a, b] = [
      await replica(prefix, { RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '3' }),
      await replica(prefix, { RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '3' }),
    ];
    const valid = await issuer.mint({ scope: 'kap/v1.read' });
    // Good requests from the address do not count against it.
    for (let i = 0; i < 5; i++) await request(a.app).get('/v1/courses/none').set('Authorization', `Bearer ${valid}`).expect(404);
    for (const h of [a, b, a]) await request(h.app).get('/v1/courses/none').set('Authorization', 'Bearer forged').expect(401);
    const flood = await request(b.app).get('/v1/courses/none').set('Authorization', 'Bearer forged').expect(429);
    expect(flood.headers['retry-after']).toMatch(/^\d+$/);
    expect(flood.body.issue[0].code).toBe('throttled');
    await request(a.app).get('/v1/courses/none').expect(429);
    // Probes stay reachable.
    await request(a.app).get('/health').expect(200);
  });

  it('with Redis down, requests pass unlimited rather than fail', async () => {
    const down = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    const h = await startApiHarness({
      env: { ...issuer.env(), RATE_LIMIT_PER_MINUTE: '1' },
      rateLimits: { redis: down, prefix: 'kap-test-rate-down' },
    });
    harnesses.push(h);
    const token = await issuer.mint({ scope: 'kap/v1.read' });
    for (let i = 0; i < 3; i++) await request(h.app).get('/v1/courses/none').set('Authorization', `Bearer ${token}`).expect(404);
    down.disconnect();
  });
});

describe('no credential in logs', () => {
  it('redacts Authorization headers, tokens and client secrets wherever a log object holds them', () => {
    const redacted = redactFields({
      authorization: 'Bearer eyJhbGciOi.x.y',
      headers: { authorization: 'Bearer eyJhbGciOi.x.y' },
      nested: { token: 'eyJhbGciOi.x.y', access_token: 'eyJ', client_secret: 's3cret', client_assertion: 'eyJ', refresh_token: 'r' },
    });
    expect(JSON.stringify(redacted)).not.toMatch(/eyJ|s3cret|"r"/);
  });
});
