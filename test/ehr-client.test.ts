import { generateKeyPairSync } from 'node:crypto';
import { createEhrClient, EhrError, type EhrAuth, type EhrClient } from '@kap/ehr-client';
import type { Bundle, Patient } from '@medplum/fhirtypes';
import { conditionalCreateEntry, conditionalUpdateEntry } from '@kap/testkit/conditional-entries';
import { startSandbox, TOKEN_PATH, type AuthOptions, type FaultSpec, type RunningSandbox } from '@kap/ehr-sandbox';

/**
 * The EHR client against the real embedded FHIR server (Medplum's FHIR router) over
 * loopback HTTP: conditional writes, error classification from real replies, and every
 * authentication mode including SMART Backend Services with a freshly generated key.
 */

const SYSTEM = 'urn:kap:test:ehr-client';
const TIMEOUT_MS = 5_000;

const patient = (value: string, family = 'Rivera'): Patient => ({
  resourceType: 'Patient',
  identifier: [{ system: SYSTEM, value }],
  name: [{ family }],
});

const transaction = (...entry: NonNullable<Bundle['entry']>): Bundle => ({ resourceType: 'Bundle', type: 'transaction', entry });

/** fetch that records which URLs were called, to count token requests. */
function recordingFetch(): { fetch: typeof fetch; urls: string[] } {
  const urls: string[] = [];
  const impl: typeof fetch = (input, init) => {
    urls.push(input instanceof Request ? input.url : String(input));
    return fetch(input, init);
  };
  return { fetch: impl, urls };
}

async function failure(promise: Promise<unknown>): Promise<EhrError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof EhrError)) throw new Error(`expected an EhrError, got ${String(error)}`);
  return error;
}

async function arm(server: RunningSandbox, fault: FaultSpec): Promise<void> {
  const res = await fetch(`${server.rootUrl}/__admin/faults`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(fault),
  });
  expect(res.status).toBe(201);
}

describe('EHR client against the FHIR sandbox, no auth', () => {
  let server: RunningSandbox;
  let ehr: EhrClient;

  beforeAll(async () => {
    server = await startSandbox({ port: 0 });
    ehr = createEhrClient({ baseUrl: server.url, auth: { mode: 'none' }, timeoutMs: TIMEOUT_MS, userAgent: 'kap-test' });
  });
  afterAll(() => server.close());
  beforeEach(() => server.sandbox.reset());

  test('a conditional create sent twice makes one resource', async () => {
    const bundle = transaction(
      conditionalCreateEntry(patient('p-1'), { system: SYSTEM, value: 'p-1' }, 'urn:uuid:2b0a3b2e-1f4c-4d4e-9a59-1c1a7f1d0001'),
    );
    const first = await ehr.transaction(bundle);
    const second = await ehr.transaction(bundle);

    expect(first.type).toBe('transaction-response');
    expect(first.entry?.[0]?.response?.status).toMatch(/^201/);
    expect(second.entry?.[0]?.response?.status).toMatch(/^200/);
    const found = await ehr.findByIdentifiers('Patient', [{ system: SYSTEM, value: 'p-1' }]);
    expect(found).toHaveLength(1);
    expect(server.sandbox.stats().resources['Patient']).toBe(1);
  });

  test('a conditional update by identifier creates, then updates the same resource', async () => {
    const key = { system: SYSTEM, value: 'p-2' };
    await ehr.transaction(transaction(conditionalUpdateEntry(patient('p-2', 'Before'), key)));
    await ehr.transaction(transaction(conditionalUpdateEntry(patient('p-2', 'After'), key)));
    const [stored] = await ehr.findByIdentifiers('Patient', [key]);
    expect(stored?.name?.[0]?.family).toBe('After');
    expect(server.sandbox.stats().resources['Patient']).toBe(1);
  });

  test('findByIdentifiers ORs identifiers across chunks and escapes search separators', async () => {
    const values = [...Array.from({ length: 120 }, (_, i) => `bulk-${i}`), 'odd,value$with\\chars'];
    // Seeded in transactions a strict server takes (at most 8 conditional entries each).
    for (let i = 0; i < values.length; i += 8) {
      await ehr.transaction(
        transaction(...values.slice(i, i + 8).map((value) => conditionalCreateEntry(patient(value), { system: SYSTEM, value }))),
      );
    }
    await ehr.transaction(transaction(conditionalCreateEntry(patient('other'), { system: SYSTEM, value: 'other' })));
    const recorder = recordingFetch();
    const client = createEhrClient({ baseUrl: server.url, auth: { mode: 'none' }, timeoutMs: TIMEOUT_MS, fetch: recorder.fetch });

    const found = await client.findByIdentifiers(
      'Patient',
      [...values, 'missing'].map((value) => ({ system: SYSTEM, value })),
    );

    expect(found.map((p) => p.identifier?.[0]?.value).sort()).toEqual([...values].sort());
    expect(recorder.urls.length).toBeGreaterThan(1);
    for (const url of recorder.urls) {
      expect(url.length).toBeLessThan(2048);
      expect(new URL(url).searchParams.get('_count')).not.toBeNull();
    }
    await expect(client.findByIdentifiers('Patient', [])).resolves.toEqual([]);
  });

  test('read returns the resource and its opaque ETag; 404 is undefined', async () => {
    const response = await ehr.transaction(transaction(conditionalCreateEntry(patient('p-3'), { system: SYSTEM, value: 'p-3' })));
    const id = response.entry?.[0]?.response?.location?.split('/')[1];
    expect(id).toBeDefined();
    const read = await ehr.read('Patient', id as string);
    expect(read?.resource.resourceType).toBe('Patient');
    expect(read?.etag).toMatch(/^W\/".+"$/);
    await expect(ehr.read('Patient', 'does-not-exist')).resolves.toBeUndefined();
  });

  test('a stale If-Match is classified precondition-failed, directly and inside a transaction', async () => {
    const key = { system: SYSTEM, value: 'p-4' };
    await ehr.transaction(transaction(conditionalCreateEntry(patient('p-4'), key)));
    const [stored] = await ehr.findByIdentifiers('Patient', [key]);
    const read = await ehr.read('Patient', stored?.id as string);
    const etag = read?.etag as string;

    const updated = await ehr.update({ ...read!.resource, gender: 'female' }, { ifMatch: etag });
    expect(updated.etag).toBeDefined();
    expect(updated.etag).not.toBe(etag);

    const stale = await failure(ehr.update({ ...read!.resource, gender: 'male' }, { ifMatch: etag }));
    expect(stale.kind).toBe('precondition-failed');
    expect(stale.status).toBe(412);
    expect(stale.outcome?.resourceType).toBe('OperationOutcome');

    const inBundle = await failure(
      ehr.transaction(transaction(conditionalUpdateEntry({ ...read!.resource, gender: 'male' }, key, { ifMatch: etag }))),
    );
    expect(inBundle.kind).toBe('precondition-failed');
    expect(inBundle.transient).toBe(true);
  });

  test('429 is rate-limited with the Retry-After delay', async () => {
    await arm(server, { status: 429, retryAfter: 7 });
    const error = await failure(ehr.transaction(transaction(conditionalCreateEntry(patient('p-5'), { system: SYSTEM, value: 'p-5' }))));
    expect(error).toMatchObject({ kind: 'rate-limited', status: 429, retryAfterMs: 7_000 });
    expect(error.outcome?.issue[0]?.code).toBe('throttled');
  });

  test('500 and 503 are retryable, and the client does not retry by itself', async () => {
    await arm(server, { status: 500 });
    await arm(server, { status: 503, retryAfter: 2 });
    const recorder = recordingFetch();
    const client = createEhrClient({ baseUrl: server.url, auth: { mode: 'none' }, timeoutMs: TIMEOUT_MS, fetch: recorder.fetch });
    const bundle = transaction(conditionalCreateEntry(patient('p-6'), { system: SYSTEM, value: 'p-6' }));

    expect(await failure(client.transaction(bundle))).toMatchObject({ kind: 'retryable', status: 500, transient: true });
    expect(await failure(client.transaction(bundle))).toMatchObject({ kind: 'retryable', status: 503, retryAfterMs: 2_000 });
    expect(recorder.urls).toHaveLength(2);
    await expect(client.transaction(bundle)).resolves.toMatchObject({ type: 'transaction-response' });
    expect(server.sandbox.stats().resources['Patient']).toBe(1);
  });

  test('a 409 is a conflict', async () => {
    await arm(server, { status: 409 });
    const error = await failure(ehr.search('Patient', { identifier: `${SYSTEM}|x` }));
    expect(error).toMatchObject({ kind: 'conflict', status: 409 });
  });

  test('a slow server is a timeout', async () => {
    await arm(server, { delayMs: 1_500 });
    const client = createEhrClient({ baseUrl: server.url, auth: { mode: 'none' }, timeoutMs: 300 });
    const error = await failure(client.search('Patient', {}));
    expect(error.kind).toBe('timeout');
    expect(error.transient).toBe(true);
  });

  test('an unreachable server is a network error', async () => {
    const closed = await startSandbox({ port: 0 });
    await closed.close();
    const client = createEhrClient({ baseUrl: closed.url, auth: { mode: 'none' }, timeoutMs: TIMEOUT_MS });
    expect(await failure(client.capabilities())).toMatchObject({ kind: 'network' });
  });

  test('an invalid request is rejected with the server OperationOutcome', async () => {
    const error = await failure(
      ehr.transaction(
        transaction({ resource: { resourceType: 'Patient', birthDate: 'not-a-date' }, request: { method: 'POST', url: 'Patient' } }),
      ),
    );
    expect(error.kind).toBe('rejected');
    expect(error.outcome?.issue.length).toBeGreaterThan(0);
    expect(error.message).toContain('Invalid date format');
    expect(error.status).toBeGreaterThanOrEqual(400);
    expect(error.status).toBeLessThan(500);
    expect(error.transient).toBe(false);
  });

  test('capabilities returns the CapabilityStatement', async () => {
    const statement = await ehr.capabilities();
    expect(statement.resourceType).toBe('CapabilityStatement');
    expect(statement.fhirVersion).toMatch(/^4\.0/);
  });

  test('searchAll follows next links up to its page limit', async () => {
    const values = Array.from({ length: 7 }, (_, i) => `page-${i}`);
    await ehr.transaction(transaction(...values.map((value) => conditionalCreateEntry(patient(value), { system: SYSTEM, value }))));
    const all = await ehr.searchAll('Patient', { _count: '2' });
    expect(all).toHaveLength(7);
    const limited = await failure(ehr.searchAll('Patient', { _count: '2' }, { maxPages: 2 }));
    expect(limited.kind).toBe('rejected');
    const page = await ehr.search('Patient', { _count: '2' });
    expect(page.entry).toHaveLength(2);
  });
});

describe('EHR client authentication against the FHIR sandbox', () => {
  const servers: RunningSandbox[] = [];
  afterAll(() => Promise.all(servers.map((s) => s.close())));

  async function start(auth: AuthOptions, clock?: () => number): Promise<RunningSandbox> {
    const server = await startSandbox({ port: 0, auth, ...(clock ? { clock } : {}) });
    servers.push(server);
    return server;
  }

  const tokenRequests = (urls: readonly string[]): number => urls.filter((u) => u.endsWith(TOKEN_PATH)).length;

  test('bearer: the fixed token is sent; a wrong one is an auth error after a single request', async () => {
    const server = await start({ mode: 'bearer', token: 'sandbox-token' });
    const good = createEhrClient({ baseUrl: server.url, auth: { mode: 'bearer', token: 'sandbox-token' }, timeoutMs: TIMEOUT_MS });
    await expect(good.search('Patient', {})).resolves.toMatchObject({ type: 'searchset' });

    const recorder = recordingFetch();
    const bad = createEhrClient({
      baseUrl: server.url,
      auth: { mode: 'bearer', token: 'wrong' },
      timeoutMs: TIMEOUT_MS,
      fetch: recorder.fetch,
    });
    expect(await failure(bad.search('Patient', {}))).toMatchObject({ kind: 'auth', status: 401, transient: false });
    expect(recorder.urls).toHaveLength(1);
  });

  test('client credentials: one token request serves many calls, concurrent ones included', async () => {
    const server = await start({ mode: 'oauth', clientId: 'kap', clientSecret: 's3cret:with/odd&chars' });
    const recorder = recordingFetch();
    const auth: EhrAuth = {
      mode: 'client-credentials',
      tokenUrl: `${server.rootUrl}${TOKEN_PATH}`,
      clientId: 'kap',
      clientSecret: 's3cret:with/odd&chars',
      scope: 'system/*.cruds',
    };
    const client = createEhrClient({ baseUrl: server.url, auth, timeoutMs: TIMEOUT_MS, fetch: recorder.fetch });

    await Promise.all(Array.from({ length: 5 }, (_, i) => client.search('Patient', { identifier: `${SYSTEM}|c-${i}` })));
    await client.transaction(transaction(conditionalCreateEntry(patient('c-1'), { system: SYSTEM, value: 'c-1' })));
    await client.findByIdentifiers('Patient', [{ system: SYSTEM, value: 'c-1' }]);
    expect(tokenRequests(recorder.urls)).toBe(1);
    expect(recorder.urls).toHaveLength(8);
  });

  test('client credentials: a wrong secret is an auth error from the token endpoint', async () => {
    const server = await start({ mode: 'oauth', clientId: 'kap', clientSecret: 'right' });
    const client = createEhrClient({
      baseUrl: server.url,
      auth: { mode: 'client-credentials', tokenUrl: `${server.rootUrl}${TOKEN_PATH}`, clientId: 'kap', clientSecret: 'wrong' },
      timeoutMs: TIMEOUT_MS,
    });
    const error = await failure(client.search('Patient', {}));
    expect(error).toMatchObject({ kind: 'auth', status: 401 });
    expect(error.message).toContain('invalid_client');
  });

  test('the token is renewed before it expires', async () => {
    let now = Date.UTC(2025, 0, 15, 12, 0, 0);
    const clock = (): number => now;
    const server = await start({ mode: 'oauth', clientId: 'kap', clientSecret: 'secret', tokenTtlSeconds: 300 }, clock);
    const recorder = recordingFetch();
    const client = createEhrClient({
      baseUrl: server.url,
      auth: { mode: 'client-credentials', tokenUrl: `${server.rootUrl}${TOKEN_PATH}`, clientId: 'kap', clientSecret: 'secret' },
      timeoutMs: TIMEOUT_MS,
      fetch: recorder.fetch,
      now: clock,
    });

    await client.search('Patient', {});
    now += 200_000;
    await client.search('Patient', {});
    expect(tokenRequests(recorder.urls)).toBe(1);
    now += 50_000; // 250 s: inside the renewal window, the old token still valid
    await client.search('Patient', {});
    expect(tokenRequests(recorder.urls)).toBe(2);
    now += 200_000; // 450 s: the first token has expired; the renewed one (renewal due at 490 s) is used
    await client.search('Patient', {});
    expect(tokenRequests(recorder.urls)).toBe(2);
    expect(recorder.urls.filter((u) => !u.endsWith(TOKEN_PATH))).toHaveLength(4);
    expect(server.sandbox.stats().requests.byStatus['401']).toBeUndefined();
  });

  test('a 401 for a cached token triggers exactly one renewal and one repeat', async () => {
    let serverNow = Date.UTC(2025, 0, 15, 12, 0, 0);
    const server = await start({ mode: 'oauth', clientId: 'kap', clientSecret: 'secret', tokenTtlSeconds: 300 }, () => serverNow);
    const recorder = recordingFetch();
    // The client's clock stands still, so only the server knows the token has expired:
    // as when an EHR revokes tokens early or the clocks disagree.
    const client = createEhrClient({
      baseUrl: server.url,
      auth: { mode: 'client-credentials', tokenUrl: `${server.rootUrl}${TOKEN_PATH}`, clientId: 'kap', clientSecret: 'secret' },
      timeoutMs: TIMEOUT_MS,
      fetch: recorder.fetch,
      now: () => Date.UTC(2025, 0, 15, 12, 0, 0),
    });
    await client.search('Patient', {});
    serverNow += 301_000;

    await expect(client.search('Patient', {})).resolves.toMatchObject({ type: 'searchset' });
    expect(tokenRequests(recorder.urls)).toBe(2);
    expect(recorder.urls.filter((u) => !u.endsWith(TOKEN_PATH))).toHaveLength(3);
    expect(server.sandbox.stats().requests.byStatus['401']).toBe(1);
  });

  test('a 401 that a fresh token does not cure is an auth error, after one renewal only', async () => {
    // Tokens with no lifetime are expired on arrival, so the server refuses every one.
    const server = await start({ mode: 'oauth', clientId: 'kap', clientSecret: 'secret', tokenTtlSeconds: 0 });
    const recorder = recordingFetch();
    const client = createEhrClient({
      baseUrl: server.url,
      auth: { mode: 'client-credentials', tokenUrl: `${server.rootUrl}${TOKEN_PATH}`, clientId: 'kap', clientSecret: 'secret' },
      timeoutMs: TIMEOUT_MS,
      fetch: recorder.fetch,
    });
    expect(await failure(client.search('Patient', {}))).toMatchObject({ kind: 'auth', status: 401 });
    expect(tokenRequests(recorder.urls)).toBe(2);
    expect(recorder.urls).toHaveLength(4);
  });

  test('SMART backend services: an RS384-signed assertion obtains a token', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const server = await start({ mode: 'oauth', clientId: 'kap-backend', publicJwk: publicKey.export({ format: 'jwk' }) });
    const recorder = recordingFetch();
    const client = createEhrClient({
      baseUrl: server.url,
      auth: {
        mode: 'smart-backend',
        tokenUrl: `${server.rootUrl}${TOKEN_PATH}`,
        clientId: 'kap-backend',
        privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        keyId: 'kap-key-1',
        algorithm: 'RS384',
        scope: 'system/*.cruds',
      },
      timeoutMs: TIMEOUT_MS,
      fetch: recorder.fetch,
    });

    await client.transaction(transaction(conditionalCreateEntry(patient('s-1'), { system: SYSTEM, value: 's-1' })));
    await expect(client.findByIdentifiers('Patient', [{ system: SYSTEM, value: 's-1' }])).resolves.toHaveLength(1);
    expect(tokenRequests(recorder.urls)).toBe(1);
  });

  test('SMART backend services: a key the server does not know is an auth error', async () => {
    const registered = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const server = await start({ mode: 'oauth', clientId: 'kap-backend', publicJwk: registered.publicKey.export({ format: 'jwk' }) });
    const client = createEhrClient({
      baseUrl: server.url,
      auth: {
        mode: 'smart-backend',
        tokenUrl: `${server.rootUrl}${TOKEN_PATH}`,
        clientId: 'kap-backend',
        privateKeyPem: other.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        keyId: 'kap-key-2',
      },
      timeoutMs: TIMEOUT_MS,
    });
    expect(await failure(client.capabilities().then(() => client.search('Patient', {})))).toMatchObject({ kind: 'auth', status: 401 });
  });
});
