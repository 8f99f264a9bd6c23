import { generateKeyPairSync } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { createTokenProvider, type EhrAuth } from './auth';
import { CLIENT_ASSERTION_TYPE } from './client-assertion';
import { EhrError } from './errors';

const TOKEN_URL = 'https://idp.example.org/oauth2/token';

interface Recorded {
  readonly headers: Headers;
  readonly form: URLSearchParams;
}

/** A scripted token endpoint: each call answers with the next reply (the last one repeats). */
function tokenEndpoint(replies: Array<{ status?: number; body: unknown; headers?: Record<string, string> }>) {
  const calls: Recorded[] = [];
  let issued = 0;
  const impl = async (_input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    calls.push({ headers: new Headers(init?.headers), form: new URLSearchParams(String(init?.body)) });
    const reply = replies[Math.min(calls.length, replies.length) - 1]!;
    issued++;
    const body = JSON.stringify(reply.body).replace('$N', String(issued));
    return new Response(body, { status: reply.status ?? 200, headers: { 'Content-Type': 'application/json', ...reply.headers } });
  };
  return { fetch: impl as typeof fetch, calls };
}

const clientCredentials: EhrAuth = {
  mode: 'client-credentials',
  tokenUrl: TOKEN_URL,
  clientId: 'kap adapter',
  clientSecret: 'p@ss:word',
  scope: 'system/*.read',
};

describe('token provider', () => {
  it('needs no token for none and passes a fixed bearer token through', async () => {
    await expect(createTokenProvider({ mode: 'none' }).getToken()).resolves.toBeUndefined();
    await expect(createTokenProvider({ mode: 'bearer', token: 't' }).getToken()).resolves.toBe('t');
  });

  it('uses client_secret_basic with form-encoded credentials', async () => {
    const endpoint = tokenEndpoint([{ body: { access_token: 'tok-$N', token_type: 'Bearer', expires_in: 300 } }]);
    const tokens = createTokenProvider(clientCredentials, { fetch: endpoint.fetch });
    await expect(tokens.getToken()).resolves.toBe('tok-1');
    const [call] = endpoint.calls;
    const basic = Buffer.from(call!.headers.get('authorization')!.replace(/^Basic /, ''), 'base64').toString();
    expect(basic).toBe('kap+adapter:p%40ss%3Aword');
    expect(Object.fromEntries(call!.form)).toEqual({ grant_type: 'client_credentials', scope: 'system/*.read' });
    expect(call!.headers.get('content-type')).toBe('application/x-www-form-urlencoded');
  });

  it('caches the token and renews it a minute before expiry', async () => {
    let now = 1_000_000;
    const endpoint = tokenEndpoint([{ body: { access_token: 'tok-$N', token_type: 'bearer', expires_in: 300 } }]);
    const tokens = createTokenProvider(clientCredentials, { fetch: endpoint.fetch, now: () => now });
    await expect(tokens.getToken()).resolves.toBe('tok-1');
    now += 239_999;
    await expect(tokens.getToken()).resolves.toBe('tok-1');
    expect(endpoint.calls).toHaveLength(1);
    now += 1;
    await expect(tokens.getToken()).resolves.toBe('tok-2');
    expect(endpoint.calls).toHaveLength(2);
  });

  it('renews short-lived tokens at half their lifetime, and assumes 300 s without expires_in', async () => {
    let now = 0;
    const short = tokenEndpoint([{ body: { access_token: 'tok-$N', expires_in: '60' } }]);
    const a = createTokenProvider(clientCredentials, { fetch: short.fetch, now: () => now });
    await a.getToken();
    now = 29_999;
    await expect(a.getToken()).resolves.toBe('tok-1');
    now = 30_000;
    await expect(a.getToken()).resolves.toBe('tok-2');

    now = 0;
    const unsaid = tokenEndpoint([{ body: { access_token: 'tok-$N' } }]);
    const b = createTokenProvider(clientCredentials, { fetch: unsaid.fetch, now: () => now });
    await b.getToken();
    now = 239_999;
    await expect(b.getToken()).resolves.toBe('tok-1');
    now = 240_000;
    await expect(b.getToken()).resolves.toBe('tok-2');
  });

  it('shares one token request between concurrent callers', async () => {
    const endpoint = tokenEndpoint([{ body: { access_token: 'tok-$N', expires_in: 300 } }]);
    const tokens = createTokenProvider(clientCredentials, { fetch: endpoint.fetch });
    const got = await Promise.all(Array.from({ length: 10 }, () => tokens.getToken()));
    expect(new Set(got)).toEqual(new Set(['tok-1']));
    expect(endpoint.calls).toHaveLength(1);
  });

  it('invalidates only the refused token', async () => {
    const endpoint = tokenEndpoint([{ body: { access_token: 'tok-$N', expires_in: 300 } }]);
    const tokens = createTokenProvider(clientCredentials, { fetch: endpoint.fetch });
    await tokens.getToken();
    tokens.invalidate('tok-1');
    await expect(tokens.getToken()).resolves.toBe('tok-2');
    tokens.invalidate('tok-1'); // a late 401 for the old token must not discard the new one
    await expect(tokens.getToken()).resolves.toBe('tok-2');
    expect(endpoint.calls).toHaveLength(2);
  });

  it('keeps using an unexpired token when an early renewal fails, and fails once it has expired', async () => {
    let now = 0;
    const endpoint = tokenEndpoint([
      { body: { access_token: 'tok-$N', expires_in: 300 } },
      { status: 503, body: { error: 'temporarily_unavailable' }, headers: { 'Retry-After': '30' } },
    ]);
    const tokens = createTokenProvider(clientCredentials, { fetch: endpoint.fetch, now: () => now });
    await tokens.getToken();
    now = 250_000;
    await expect(tokens.getToken()).resolves.toBe('tok-1');
    now = 300_000;
    await expect(tokens.getToken()).rejects.toMatchObject({ kind: 'retryable', status: 503, retryAfterMs: 30_000 });
  });

  it('reports refusals and malformed token responses as auth errors', async () => {
    const refused = tokenEndpoint([{ status: 401, body: { error: 'invalid_client', error_description: 'bad secret' } }]);
    const error: unknown = await createTokenProvider(clientCredentials, { fetch: refused.fetch })
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EhrError);
    expect(error).toMatchObject({ kind: 'auth', status: 401, message: expect.stringContaining('invalid_client: bad secret') });

    for (const body of [{}, { access_token: '' }, { access_token: 'x', token_type: 'mac' }, 'not json']) {
      const endpoint = tokenEndpoint([{ body }]);
      await expect(createTokenProvider(clientCredentials, { fetch: endpoint.fetch }).getToken()).rejects.toMatchObject({ kind: 'auth' });
    }
  });

  it('maps an unreachable token endpoint to a network error', async () => {
    const failing = (async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    }) as typeof fetch;
    await expect(createTokenProvider(clientCredentials, { fetch: failing }).getToken()).rejects.toMatchObject({
      kind: 'network',
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it.each([
    ['RS384', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['ES384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' })],
  ] as const)('signs a SMART backend services assertion with %s', async (alg, generate) => {
    const { privateKey, publicKey } = generate();
    const now = Date.UTC(2025, 0, 15, 12, 0, 0);
    const endpoint = tokenEndpoint([{ body: { access_token: 'tok-$N', expires_in: 300 } }]);
    const auth: EhrAuth = {
      mode: 'smart-backend',
      tokenUrl: TOKEN_URL,
      clientId: 'kap',
      privateKeyPem: privateKey.export({ type: alg === 'RS384' ? 'pkcs1' : 'sec1', format: 'pem' }).toString(),
      keyId: 'key-1',
      scope: 'system/*.write',
    };
    await createTokenProvider(auth, { fetch: endpoint.fetch, now: () => now }).getToken();
    const form = endpoint.calls[0]!.form;
    expect(form.get('grant_type')).toBe('client_credentials');
    expect(form.get('scope')).toBe('system/*.write');
    expect(form.get('client_assertion_type')).toBe(CLIENT_ASSERTION_TYPE);
    const jwt = form.get('client_assertion')!;
    expect(decodeProtectedHeader(jwt)).toEqual({ alg, kid: 'key-1', typ: 'JWT' });
    const { payload } = await jwtVerify(jwt, publicKey, {
      issuer: 'kap',
      subject: 'kap',
      audience: TOKEN_URL,
      currentDate: new Date(now),
    });
    expect(payload.exp! - Math.floor(now / 1000)).toBeLessThanOrEqual(300);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(endpoint.calls[0]!.headers.get('authorization')).toBeNull();
  });

  it('refuses a key that cannot sign the requested algorithm, at creation', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const base = { mode: 'smart-backend', tokenUrl: TOKEN_URL, clientId: 'kap', keyId: 'k' } as const;
    expect(() => createTokenProvider({ ...base, privateKeyPem: pem, algorithm: 'ES384' })).toThrow(/cannot sign ES384/);
    expect(() => createTokenProvider({ ...base, privateKeyPem: 'garbage' })).toThrow(/not a readable PEM/);
  });
});
