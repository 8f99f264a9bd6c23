import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connectEhr, subscribeToEhr, bearerExpiryMs } from '@kap/worker';
import { startSandbox, type RunningSandbox } from '@kap/ehr-sandbox';
import type { Subscription } from '@medplum/fhirtypes';
import request from 'supertest';
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

describe('tenant operations: notification tokens renewed per tenant', () => {
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
    stack = await startStack({ ...issuer.env(), EHR_SUBSCRIPTION_RENEW_CHECK_MS: '1000' }, { tenantsFile: { path: 'tenants.json', text: JSON.stringify(tenants) } });
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
});
