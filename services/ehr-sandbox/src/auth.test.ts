import { createSign, generateKeyPairSync, randomUUID } from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { RunningSandbox } from './start';
import { startSandbox } from './start';

interface TokenReply {
  access_token?: string;
  expires_in?: number;
  error?: string;
}

function signJwt(privateKey: KeyObject, claims: Record<string, unknown>, alg: 'RS384' | 'ES384'): string {
  const encode = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${encode({ alg, typ: 'JWT', kid: 'k1' })}.${encode(claims)}`;
  const signature = createSign('sha384')
    .update(input)
    .sign(alg === 'ES384' ? { key: privateKey, dsaEncoding: 'ieee-p1363' } : privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

async function token(server: RunningSandbox, form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.rootUrl}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: (await res.json()) as TokenReply };
}

const readPatients = (server: RunningSandbox, accessToken?: string): Promise<Response> =>
  fetch(`${server.url}/Patient`, { headers: accessToken ? { authorization: `Bearer ${accessToken}` } : {} });

describe('static bearer token', () => {
  let server: RunningSandbox;
  beforeAll(async () => {
    server = await startSandbox({ port: 0, auth: { mode: 'bearer', token: 's3cret' } });
  });
  afterAll(() => server.close());

  test('FHIR needs the token; metadata stays public', async () => {
    const denied = await readPatients(server);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await denied.json()) as OperationOutcome).resourceType).toBe('OperationOutcome');
    expect((await readPatients(server, 'wrong')).status).toBe(401);
    expect((await readPatients(server, 's3cret')).status).toBe(200);
    expect((await fetch(`${server.url}/metadata`)).status).toBe(200);
  });
});

describe('OAuth client credentials', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  let now = Date.now();
  let server: RunningSandbox;
  let ecServer: RunningSandbox;

  beforeAll(async () => {
    server = await startSandbox({
      port: 0,
      clock: () => now,
      auth: {
        mode: 'oauth',
        clientId: 'kap-adapter',
        clientSecret: 'shh',
        publicJwk: rsa.publicKey.export({ format: 'jwk' }) as JsonWebKey,
        tokenTtlSeconds: 60,
      },
    });
    ecServer = await startSandbox({
      port: 0,
      auth: { mode: 'oauth', clientId: 'kap-adapter', publicJwk: ec.publicKey.export({ format: 'jwk' }) as JsonWebKey },
    });
  });
  afterAll(async () => {
    await server.close();
    await ecServer.close();
  });

  test('smart-configuration advertises the token endpoint', async () => {
    const res = await fetch(`${server.url}/.well-known/smart-configuration`);
    expect(((await res.json()) as { token_endpoint: string }).token_endpoint).toBe(`${server.rootUrl}/oauth2/token`);
  });

  test('client_secret_basic and client_secret_post; tokens expire', async () => {
    const basic = await token(
      server,
      { grant_type: 'client_credentials' },
      {
        authorization: `Basic ${Buffer.from('kap-adapter:shh').toString('base64')}`,
      },
    );
    expect(basic.status).toBe(200);
    expect(basic.body.expires_in).toBe(60);
    const post = await token(server, { grant_type: 'client_credentials', client_id: 'kap-adapter', client_secret: 'shh' });
    expect(post.status).toBe(200);
    expect((await token(server, { grant_type: 'client_credentials', client_id: 'kap-adapter', client_secret: 'no' })).status).toBe(401);
    expect((await token(server, { grant_type: 'password' })).body.error).toBe('unsupported_grant_type');

    expect((await readPatients(server, post.body.access_token)).status).toBe(200);
    expect((await readPatients(server, 'made-up')).status).toBe(401);
    now += 61_000;
    const expired = await readPatients(server, post.body.access_token);
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toContain('invalid_token');
  });

  test('SMART Backend Services assertion signed RS384; replay and wrong audience refused', async () => {
    const claims = () => ({
      iss: 'kap-adapter',
      sub: 'kap-adapter',
      aud: `${server.rootUrl}/oauth2/token`,
      exp: Math.floor(now / 1000) + 240,
      jti: randomUUID(),
    });
    const form = (jwt: string) => ({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: jwt,
    });
    const jwt = signJwt(rsa.privateKey, claims(), 'RS384');
    const ok = await token(server, form(jwt));
    expect(ok.status).toBe(200);
    expect((await readPatients(server, ok.body.access_token)).status).toBe(200);
    expect((await token(server, form(jwt))).status).toBe(401);
    expect((await token(server, form(signJwt(rsa.privateKey, { ...claims(), aud: 'https://elsewhere/token' }, 'RS384')))).status).toBe(401);
    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect((await token(server, form(signJwt(otherKey, claims(), 'RS384')))).status).toBe(401);
    expect((await token(server, form(signJwt(rsa.privateKey, { ...claims(), exp: Math.floor(now / 1000) - 120 }, 'RS384')))).status).toBe(
      401,
    );
  });

  test('assertion signed ES384', async () => {
    const jwt = signJwt(
      ec.privateKey,
      {
        iss: 'kap-adapter',
        sub: 'kap-adapter',
        aud: `${ecServer.rootUrl}/oauth2/token`,
        exp: Math.floor(Date.now() / 1000) + 60,
        jti: randomUUID(),
      },
      'ES384',
    );
    const res = await token(ecServer, {
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: jwt,
    });
    expect(res.status).toBe(200);
    // No client secret is registered, so secret authentication is refused.
    expect((await token(ecServer, { grant_type: 'client_credentials', client_id: 'kap-adapter', client_secret: 'x' })).status).toBe(401);
  });
});
