import { createHmac, createPublicKey, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { SignJWT, generateKeyPair, type JWK } from 'jose';
import pino from 'pino';
import request from 'supertest';
import { startApiHarness, type ApiHarness } from '@kap/testkit/api-harness';
import { screeningRequest } from '@kap/testkit/requests';
import { startTestIssuer, type TestIssuer } from '@kap/testkit/tokens';

const ALL_SCOPES = 'kap/v1.read kap/v1.write kap/admin system/*.rs system/*.c';

const b64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url');
const segments = (token: string): [string, string, string] => token.split('.') as [string, string, string];
const decodeJson = (segment: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;

/**
 * A JWT made with node:crypto alone, as an issuer built on another library would make it:
 * standard claims only, `aud` as an array, the client named by `azp`.
 */
function independentToken(privateKey: KeyObject, header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const alg = header.alg as string;
  const hash = `sha${alg.slice(2)}`;
  const signature = alg.startsWith('ES')
    ? sign(hash, Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' })
    : sign(hash, Buffer.from(input), privateKey);
  return `${input}.${b64url(signature)}`;
}

describe('JWT bearer authentication (AUTH_MODE=jwt)', () => {
  let issuer: TestIssuer;
  let h: ApiHarness;
  const lines: string[] = [];
  beforeAll(async () => {
    issuer = await startTestIssuer();
    h = await startApiHarness({ env: issuer.env(), logger: pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) }) });
  });
  afterAll(async () => {
    await h.close();
    await issuer.close();
  });

  const screenings = async (): Promise<number> =>
    (await h.db.query<{ n: number }>('SELECT count(*)::int AS n FROM screenings'))[0]?.n ?? -1;
  const bearer = (token: string): [string, string] => ['Authorization', `Bearer ${token}`];

  it('accepts a token signed by the issuer, for its audience, within its lifetime', async () => {
    const token = await issuer.mint({ scope: 'kap/v1.write kap/v1.read', sub: 'clinician-1' });
    await request(h.app)
      .post('/v1/screenings')
      .set(...bearer(token))
      .send(screeningRequest())
      .expect(201);
  });

  it('answers 401 to every forged, foreign, stale or malformed token, echoes none of them, and changes nothing', async () => {
    const before = await screenings();
    const valid = await issuer.mint({ scope: 'kap/v1.read' });
    const [header, payload, signature] = segments(valid);
    const claims = decodeJson(payload);

    // The issuer's own public key, as an attacker downloads it, used as an HMAC secret.
    const jwks = (await (await fetch(issuer.jwksUrl)).json()) as { keys: Array<Record<string, unknown>> };
    const publicJwk = jwks.keys[0] as Record<string, unknown>;
    const publicPem = createPublicKey({ key: publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
    const hmac = (secret: string): string => {
      const input = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: publicJwk.kid }))}.${payload}`;
      return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
    };
    // A key the issuer never published, under a kid of its own and under the issuer's kid.
    const stray = await generateKeyPair('RS256');
    const strayToken = (kid: string): Promise<string> =>
      new SignJWT({ scope: ALL_SCOPES })
        .setProtectedHeader({ alg: 'RS256', kid })
        .setIssuer(issuer.issuer)
        .setAudience(issuer.audience)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(stray.privateKey);
    // Another issuer with keys of its own, claiming to be ours and being itself.
    const other = await startTestIssuer({ audience: issuer.audience });
    try {
      const tokens: Record<string, string | undefined> = {
        missing: undefined,
        expired: await issuer.mint({ scope: ALL_SCOPES, expiresIn: -120 }),
        notYetValid: await issuer.mint({ scope: ALL_SCOPES, notBefore: 120 }),
        otherIssuer: await issuer.mint({ scope: ALL_SCOPES, issuer: 'https://attacker.example/issuer' }),
        otherAudience: await issuer.mint({ scope: ALL_SCOPES, audience: 'https://another-api.example' }),
        algNone: `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify({ ...claims, scope: ALL_SCOPES }))}.`,
        algNoneKeptSignature: `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${payload}.${signature}`,
        hmacWithPublicKeyPem: hmac(publicPem),
        hmacWithPublicKeyJwk: hmac(JSON.stringify(publicJwk)),
        tamperedPayload: `${header}.${b64url(JSON.stringify({ ...claims, scope: ALL_SCOPES }))}.${signature}`,
        tamperedSignature: `${header}.${payload}.${signature.slice(0, -4)}${signature.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`,
        keyNotInJwks: await strayToken(randomUUID()),
        keyNotInJwksUnderIssuersKid: await strayToken(publicJwk.kid as string),
        secondIssuerPosingAsOurs: await other.mint({ scope: ALL_SCOPES, issuer: issuer.issuer }),
        secondIssuerAsItself: await other.mint({ scope: ALL_SCOPES }),
        notAJwt: 'not-a-jwt',
        empty: '',
      };
      for (const [name, token] of Object.entries(tokens)) {
        const call = request(h.app).post('/v1/screenings').send(screeningRequest());
        const res = await (token === undefined ? call : call.set('Authorization', `Bearer ${token}`));
        expect({ name, status: res.status }).toEqual({ name, status: 401 });
        expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="kap-adapter"/);
        expect(res.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [expect.objectContaining({ code: 'login' })] });
        if (token)
          expect({ name, echoed: res.text.includes(token) || res.text.includes(segments(token)[2] || token) }).toEqual({
            name,
            echoed: false,
          });
      }
      // Another scheme is no bearer token.
      await request(h.app).get('/fhir/R4/Patient?_id=x').set('Authorization', 'Basic Y2xpbmljOnRva2Vu').expect(401);
    } finally {
      await other.close();
    }
    expect(await screenings()).toBe(before);
  });

  it('answers 403 naming the scope when a valid token lacks it, and changes nothing', async () => {
    const before = await screenings();
    const reader = await issuer.mint({ scope: 'kap/v1.read system/*.rs' });
    const write = await request(h.app)
      .post('/v1/screenings')
      .set(...bearer(reader))
      .send(screeningRequest())
      .expect(403);
    expect(write.body).toMatchObject({
      resourceType: 'OperationOutcome',
      issue: [expect.objectContaining({ code: 'forbidden', diagnostics: expect.stringContaining('kap/v1.write') })],
    });
    expect(write.headers['www-authenticate']).toMatch(/error="insufficient_scope", scope="kap\/v1.write"/);
    const qr = await request(h.app)
      .post('/fhir/R4/QuestionnaireResponse')
      .set(...bearer(reader))
      .send({ resourceType: 'QuestionnaireResponse' })
      .expect(403);
    expect(qr.body.issue[0].diagnostics).toMatch(/system\/QuestionnaireResponse\.c/);
    expect(await screenings()).toBe(before);

    const writer = await issuer.mint({ scope: 'kap/v1.write system/Observation.r' });
    expect(
      (
        await request(h.app)
          .get('/v1/courses/any')
          .set(...bearer(writer))
          .expect(403)
      ).body.issue[0].diagnostics,
    ).toMatch(/kap\/v1\.read/);
    // Read by id needs r, search needs s.
    await request(h.app)
      .get('/fhir/R4/Observation/none')
      .set(...bearer(writer))
      .expect(404);
    expect(
      (
        await request(h.app)
          .get('/fhir/R4/Observation?_id=none')
          .set(...bearer(writer))
          .expect(403)
      ).body.issue[0].diagnostics,
    ).toMatch(/system\/Observation\.s/);
    await request(h.app)
      .get('/fhir/R4/Condition/none')
      .set(...bearer(writer))
      .expect(403);
    // SMART v1 scopes count as their v2 equivalents.
    const v1 = await issuer.mint({ scope: 'system/*.read' });
    await request(h.app)
      .get('/fhir/R4/Observation?_id=none')
      .set(...bearer(v1))
      .expect(200);
    await request(h.app)
      .post('/fhir/R4/QuestionnaireResponse')
      .set(...bearer(v1))
      .send({ resourceType: 'QuestionnaireResponse' })
      .expect(403);
  });

  it('keeps /v1/admin, /admin/queues and /metrics to kap/admin', async () => {
    const clinician = await issuer.mint({ scope: 'kap/v1.read kap/v1.write system/*.cruds' });
    const operator = await issuer.mint({ scope: 'kap/admin' });
    for (const path of ['/v1/admin/sync-status', '/v1/admin/dead-letters', '/admin/queues', '/metrics']) {
      const res = await request(h.app)
        .get(path)
        .set(...bearer(clinician));
      expect({ path, status: res.status, scope: res.body.issue?.[0]?.diagnostics }).toEqual({
        path,
        status: 403,
        scope: expect.stringContaining('kap/admin'),
      });
      await request(h.app).get(path).expect(401);
    }
    await request(h.app)
      .get('/v1/admin/sync-status')
      .set(...bearer(operator))
      .expect(200);
    const metrics = await request(h.app)
      .get('/metrics')
      .set(...bearer(operator))
      .expect(200);
    expect(metrics.text).toMatch(/kap_http_requests_total/);
  });

  it('answers 403 to a valid token of a tenant this deployment does not serve', async () => {
    const before = await screenings();
    const stranger = await issuer.mint({ scope: ALL_SCOPES, tenant: 'hospital-nobody-configured' });
    const res = await request(h.app)
      .post('/v1/screenings')
      .set(...bearer(stranger))
      .send(screeningRequest())
      .expect(403);
    expect(res.body.issue[0].code).toBe('forbidden');
    expect(await screenings()).toBe(before);
  });

  it('accepts RS256, RS384, ES256 and ES384, each found in the JWKS without a restart', async () => {
    for (const alg of ['RS256', 'RS384', 'ES256', 'ES384']) {
      await issuer.rotate({ alg });
      const token = await issuer.mint({ scope: 'kap/v1.read' });
      expect(decodeJson(segments(token)[0]).alg).toBe(alg);
      const res = await request(h.app)
        .get('/v1/courses/none')
        .set(...bearer(token));
      expect({ alg, status: res.status }).toEqual({ alg, status: 404 });
    }
  });

  it('accepts tokens of an independent issuer library: standard claims, aud as an array, the client in azp', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const [alg, pair] of [
      ['RS256', generateKeyPairSync('rsa', { modulusLength: 2048 })],
      ['ES384', generateKeyPairSync('ec', { namedCurve: 'P-384' })],
    ] as const) {
      const kid = `independent-${alg}`;
      issuer.publish({ ...(pair.publicKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' });
      const token = independentToken(
        pair.privateKey,
        { alg, typ: 'JWT', kid },
        {
          iss: issuer.issuer,
          aud: ['https://some-other-api.example', issuer.audience],
          sub: 'service-account-7',
          azp: 'clinic-scheduler',
          scope: 'kap/v1.write kap/v1.read',
          iat: now,
          nbf: now,
          exp: now + 300,
          jti: randomUUID(),
        },
      );
      const res = await request(h.app)
        .post('/v1/screenings')
        .set(...bearer(token))
        .send(screeningRequest());
      expect({ alg, status: res.status }).toEqual({ alg, status: 201 });
    }
  });

  it('downloads the JWKS about once a second at most, however many made-up key ids arrive', async () => {
    const stray = await generateKeyPair('ES256');
    const forged = (): Promise<string> =>
      new SignJWT({ scope: ALL_SCOPES })
        .setProtectedHeader({ alg: 'ES256', kid: randomUUID() })
        .setIssuer(issuer.issuer)
        .setAudience(issuer.audience)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(stray.privateKey);
    const before = issuer.jwksRequests();
    const started = Date.now();
    for (let wave = 0; wave < 3; wave++) {
      const tokens = await Promise.all(Array.from({ length: 20 }, forged));
      const statuses = await Promise.all(
        tokens.map(
          async (t) =>
            (
              await request(h.app)
                .get('/v1/courses/none')
                .set(...bearer(t))
            ).status,
        ),
      );
      expect(new Set(statuses)).toEqual(new Set([401]));
    }
    const seconds = Math.ceil((Date.now() - started) / 1000);
    // 60 unknown kids: a cache that reloaded for each would have read the keys 60 times.
    expect(issuer.jwksRequests() - before).toBeLessThanOrEqual(seconds + 1);
  });

  it('picks up a rotated signing key without a restart', async () => {
    await issuer.rotate({ retireOld: true });
    const token = await issuer.mint({ scope: 'kap/v1.write' });
    await request(h.app)
      .post('/v1/screenings')
      .set(...bearer(token))
      .send(screeningRequest())
      .expect(201);
  });

  it('leaves the public paths open, SMART discovery among them', async () => {
    for (const path of ['/health', '/ready', '/openapi.json', '/fhir/R4/metadata']) await request(h.app).get(path).expect(200);
    const smart = await request(h.app).get('/.well-known/smart-configuration').expect(200);
    expect(smart.body).toMatchObject({
      issuer: issuer.issuer,
      jwks_uri: issuer.jwksUrl,
      token_endpoint: issuer.env().AUTH_TOKEN_URL,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      code_challenge_methods_supported: ['S256'],
      capabilities: expect.arrayContaining(['client-confidential-asymmetric', 'permission-v2', 'permission-v1']),
      scopes_supported: expect.arrayContaining([
        'kap/v1.read',
        'kap/v1.write',
        'kap/admin',
        'system/*.rs',
        'system/QuestionnaireResponse.c',
      ]),
    });
  });

  it('writes no token to its logs', async () => {
    const secret = await issuer.mint({ scope: 'kap/v1.read', sub: 'log-probe' });
    await request(h.app)
      .post('/v1/screenings')
      .set(...bearer(secret))
      .send(screeningRequest())
      .expect(403);
    const [head, body, sig] = segments(secret);
    const broken = `${head}.${body}.${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`;
    await request(h.app)
      .get('/v1/courses/none')
      .set(...bearer(broken))
      .expect(401);
    await new Promise((r) => setImmediate(r));
    expect(lines.length).toBeGreaterThan(0);
    const signature = segments(secret)[2];
    expect(lines.filter((l) => l.includes(signature) || l.includes(segments(broken)[2]) || /Bearer /.test(l))).toEqual([]);
  });
});
