import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connectEhr, subscribeToEhr, bearerExpiryMs } from '@kap/worker';
import { startSandbox, type RunningSandbox } from '@kap/ehr-sandbox';
import type { Subscription } from '@medplum/fhirtypes';
import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import { SignJWT, decodeProtectedHeader, generateKeyPair } from 'jose';
import request from 'supertest';
import { auditTrailOf } from '../services/api/src/app';
import { until } from '../bench/lib/report';
import { notification } from './support/notifications';
import { startStack, type Stack } from './support/stack';
import { startTestIssuer, type TestIssuer } from './support/tokens';

jest.setTimeout(180_000);

const ENDPOINT = 'http://kap.test/v1/ehr-notifications';
const NOTIFIER = { id: 'north-ehr-notifier', secret: 'north-notifier-secret-not-for-production' };

/** The issuer's token endpoint for the EHR's notification client (client credentials, HTTP Basic), as the worker asks it. */
async function startTokenEndpoint(issuer: TestIssuer): Promise<{ url: string; issued: () => number; close(): Promise<void> }> {
  let issued = 0;
  const expected = `Basic ${Buffer.from(`${NOTIFIER.id}:${NOTIFIER.secret}`).toString('base64')}`;
  const server: Server = createServer((req, res) => {
    if (req.method !== 'POST' || req.headers.authorization !== expected) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
    issued += 1;
    void issuer.mint({ tenant: 'north', scope: 'kap/v1.write', clientId: NOTIFIER.id, expiresIn: 7200 }).then((token) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 7200, scope: 'kap/v1.write' })),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`, issued: () => issued, close: () => new Promise((r) => server.close(() => r())) };
}

const authHeader = (s: Subscription): string | undefined => s.channel?.header?.find((h) => /^Authorization:/i.test(h));
const tokenOf = (s: Subscription): string => (authHeader(s) ?? '').replace(/^Authorization:\s*Bearer\s+/i, '');

describe('tenant operations: notification tokens renewed per tenant; refused tokens in the deployment\'s audit record', () => {
  let issuer: TestIssuer;
  let north: RunningSandbox;
  let south: RunningSandbox;
  let tokenEndpoint: Awaited<ReturnType<typeof startTokenEndpoint>>;
  let stack: Stack;

  beforeAll(async () => {
    issuer = await startTestIssuer();
    north = await startSandbox({ port: 0 });
    south = await startSandbox({ port: 0 });
    tokenEndpoint = await startTokenEndpoint(issuer);
    const tenants = {
      tenants: [
        {
          id: 'north',
          env: {
            EHR_BASE_URL: north.url,
            EHR_SUBSCRIPTION_TOKEN_URL: tokenEndpoint.url,
            EHR_SUBSCRIPTION_CLIENT_ID: NOTIFIER.id,
            EHR_SUBSCRIPTION_CLIENT_SECRET: NOTIFIER.secret,
            // The token put there first has two minutes left: within the window, so the worker renews it at once.
            EHR_SUBSCRIPTION_RENEW_WITHIN: 'PT10M',
          },
        },
        // South's token is fixed (EHR_SUBSCRIPTION_TOKEN): nothing renews it, nothing touches its Subscriptions.
        { id: 'south', env: { EHR_BASE_URL: south.url } },
      ],
    };
    // The per-address limit on unauthenticated requests would stop the flood below before it reaches the record.
    stack = await startStack({ ...issuer.env(), EHR_SUBSCRIPTION_RENEW_CHECK_MS: '1000', RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '100000' }, { tenantsFile: { path: 'tenants.json', text: JSON.stringify(tenants) } });
  });
  afterAll(async () => {
    await stack?.close();
    await tokenEndpoint?.close();
    await north?.close();
    await south?.close();
    await issuer?.close();
  });

  const subscriptionsOn = async (sandbox: RunningSandbox): Promise<Subscription[]> =>
    (await connectEhr({ ...stack.config, EHR_BASE_URL: sandbox.url }, { manages: ['Subscription'] }).searchAll('Subscription', { url: ENDPOINT })).sort((a, b) =>
      (a.criteria ?? '').localeCompare(b.criteria ?? ''),
    );

  it('renews the token on a tenant\'s Subscriptions before it expires; the old token stays accepted until then, so no notification is refused', async () => {
    const northConfig = stack.tenants.get('north')!.config;
    const southConfig = stack.tenants.get('south')!.config;
    const oldToken = await issuer.mint({ tenant: 'north', scope: 'kap/v1.write', clientId: NOTIFIER.id, expiresIn: 120 });
    const southToken = await issuer.mint({ tenant: 'south', scope: 'kap/v1.write', clientId: 'south-ehr-notifier', expiresIn: 120 });
    await subscribeToEhr(connectEhr(northConfig, { manages: ['Subscription'] }), northConfig, { endpoint: ENDPOINT, token: oldToken });
    await subscribeToEhr(connectEhr(southConfig, { manages: ['Subscription'] }), southConfig, { endpoint: ENDPOINT, token: southToken });
    expect((await subscriptionsOn(north)).map(tokenOf)).toEqual([oldToken, oldToken]);

    stack.startWorker();
    await until(async () => (await subscriptionsOn(north)).every((s) => tokenOf(s) !== oldToken), 30_000, 'north token renewed');
    const renewed = await subscriptionsOn(north);
    const newToken = tokenOf(renewed[0]!);
    expect(renewed.map(tokenOf)).toEqual([newToken, newToken]);
    expect(bearerExpiryMs(authHeader(renewed[0]!))! - bearerExpiryMs(`Authorization: Bearer ${oldToken}`)!).toBeGreaterThan(3600_000);
    // Renewed once, then left alone: the new token is far from expiry.
    await new Promise((r) => setTimeout(r, 3000));
    expect(tokenEndpoint.issued()).toBe(1);
    expect((await subscriptionsOn(north)).map(tokenOf)).toEqual([newToken, newToken]);
    // South has no token endpoint: its fixed token is left as it was.
    expect((await subscriptionsOn(south)).map(tokenOf)).toEqual([southToken, southToken]);

    // During the rotation the EHR may still send the old token: both are accepted, as north's.
    for (const token of [oldToken, newToken]) {
      const res = await request(stack.app).post('/v1/ehr-notifications').set('Authorization', `Bearer ${token}`).send(notification('handshake'));
      expect(res.status).toBe(200);
    }
  });

  /** The issuer's current key id: a forged token names it, so the API does not read the JWKS again for it. */
  const issuerKid = async (): Promise<string> => decodeProtectedHeader(await issuer.mint()).kid as string;

  /** A token as an attacker would make it: the issuer's claims and key id, signed with a key the issuer never published. */
  async function forged(claims: Record<string, unknown>): Promise<string> {
    const { privateKey } = await generateKeyPair('RS256');
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: await issuerKid() }).setIssuer(issuer.issuer).setAudience(issuer.audience).setIssuedAt(now).setExpirationTime(now + 300).sign(privateKey);
  }

  const deploymentAudit = async (): Promise<AuditEvent[]> => {
    await auditTrailOf(stack.app).flush();
    // The deployment's operator: kap/deployment (a token still names a tenant the deployment serves).
    const operator = await issuer.mint({ tenant: 'north', scope: 'kap/deployment', clientId: 'deployment-operator' });
    const res = await request(stack.app).get('/v1/deployment/audit-events?limit=1000').set('Authorization', `Bearer ${operator}`).expect(200);
    return ((res.body as Bundle<AuditEvent>).entry ?? []).map((e) => e.resource as AuditEvent);
  };

  it('a refused token (401) is recorded for the deployment with the client it claims (unverified), the address and the reason, never the token; no tenant\'s trail has it', async () => {
    const bad = await forged({ client_id: 'intruder-app', tenant: 'north', scope: 'kap/v1.read' });
    for (let i = 0; i < 3; i++) await request(stack.app).get('/v1/alerts').set('Authorization', `Bearer ${bad}`).expect(401);
    const expired = await issuer.mint({ tenant: 'south', clientId: 'south-app', scope: 'kap/v1.read', expiresIn: -600 });
    await request(stack.app).get('/v1/alerts').set('Authorization', `Bearer ${expired}`).expect(401);
    await request(stack.app).get('/v1/alerts').expect(401);

    const events = await deploymentAudit();
    const text = JSON.stringify(events);
    for (const token of [bad, expired]) {
      expect(text).not.toContain(token);
      expect(text).not.toContain(token.split('.')[2]);
    }
    const intruder = events.find((e) => e.agent?.[0]?.who?.identifier?.value === 'intruder-app');
    expect(intruder).toMatchObject({
      resourceType: 'AuditEvent',
      type: { code: '110114' },
      subtype: [{ code: '110122' }],
      outcome: '4',
      agent: [{ requestor: true, who: { display: 'client named by a refused token (unverified)' }, network: { type: '2' } }, { requestor: false }],
    });
    expect(intruder!.agent![0]!.network!.address).toMatch(/127\.0\.0\.1/);
    expect(intruder!.outcomeDesc).toMatch(/^HTTP 401: signature, algorithm or key not accepted; 3 time\(s\) in the minute from /);
    expect(events.find((e) => e.agent?.[0]?.who?.identifier?.value === 'south-app')?.outcomeDesc).toMatch(/^HTTP 401: expired; 1 time/);
    expect(events.some((e) => /^HTTP 401: no bearer token;/.test(e.outcomeDesc ?? ''))).toBe(true);

    // A tenant's administrator cannot read the deployment's record, and no tenant's trail holds the refusals.
    const northAdmin = await issuer.mint({ tenant: 'north', clientId: 'north-admin', scope: 'kap/admin kap/v1.read system/*.rs' });
    await request(stack.app).get('/v1/deployment/audit-events').set('Authorization', `Bearer ${northAdmin}`).expect(403);
    const inTenantTrails = await stack.db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_events WHERE content::text LIKE '%intruder-app%'");
    expect(inTenantTrails[0]!.n).toBe(0);
  });

  // From one address the per-address limit stops a flood first; from many (a botnet) only this bound holds.
  it('a flood of refused tokens with made-up clients adds a bounded number of rows a minute, every refusal counted', async () => {
    const before = await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM deployment_audit');
    const FLOOD = 250;
    const { privateKey } = await generateKeyPair('RS256');
    const kid = await issuerKid();
    for (let i = 0; i < FLOOD; i++) {
      const token = await new SignJWT({ client_id: `flood-${i}` }).setProtectedHeader({ alg: 'RS256', kid }).setIssuer(issuer.issuer).setAudience(issuer.audience).setExpirationTime('5m').sign(privateKey);
      await request(stack.app).get('/v1/alerts').set('Authorization', `Bearer ${token}`).expect(401);
    }
    await auditTrailOf(stack.app).flush();
    const after = await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM deployment_audit');
    // At most 100 keys and one overflow row a minute; the flood may straddle two minutes.
    expect(after[0]!.n - before[0]!.n).toBeLessThanOrEqual(2 * 101);
    const counted = await stack.db.query<{ n: number }>(
      "SELECT coalesce(sum(count), 0)::int AS n FROM deployment_audit WHERE client_id LIKE 'flood-%' OR reason LIKE 'more distinct refusals%'",
    );
    expect(counted[0]!.n).toBe(FLOOD);
    expect((await deploymentAudit()).some((e) => /more distinct refusals this minute/.test(e.outcomeDesc ?? ''))).toBe(true);
  });
});
