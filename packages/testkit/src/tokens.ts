import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type JWK, type KeyLike } from 'jose';

/** One signing key of the test issuer, published in its JWKS under `kid`. */
interface SigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: KeyLike;
  readonly publicJwk: JWK;
}

export interface MintOptions {
  /** Space-separated scopes (claim `scope`). */
  readonly scope?: string;
  readonly tenant?: string;
  readonly sub?: string;
  readonly clientId?: string;
  /** Seconds from now; negative for an expired token. Default 300. */
  readonly expiresIn?: number;
  /** Seconds from now before which the token is not valid. */
  readonly notBefore?: number;
  readonly issuer?: string;
  readonly audience?: string;
  /** Extra claims, merged last. */
  readonly claims?: Record<string, unknown>;
}

/**
 * A token issuer of the tests' own: keys generated at start, served as a JWKS over real
 * HTTP on loopback, and tokens minted with them, as a hospital's authorization server would.
 */
export interface TestIssuer {
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUrl: string;
  /** How many times the JWKS was downloaded. */
  readonly jwksRequests: () => number;
  mint(options?: MintOptions): Promise<string>;
  /** A new current signing key, published beside the old ones (or instead of them with `retireOld`). */
  rotate(options?: { retireOld?: boolean; alg?: string }): Promise<void>;
  /** Publishes a public key made elsewhere (an independent signer), as the issuer's JWKS would list it. */
  publish(publicJwk: JWK): void;
  /** The environment that points the API at this issuer. */
  env(): Record<string, string>;
  close(): Promise<void>;
}

async function newKey(alg: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export async function startTestIssuer(options: { alg?: string; audience?: string } = {}): Promise<TestIssuer> {
  let keys: SigningKey[] = [await newKey(options.alg ?? 'RS256')];
  const published: JWK[] = [];
  let requests = 0;
  const server: Server = createServer((req, res) => {
    if (req.url !== '/jwks.json') return void res.writeHead(404).end();
    requests += 1;
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ keys: [...keys.map((k) => k.publicJwk), ...published] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = `${base}/issuer`;
  const audience = options.audience ?? 'https://kap-adapter.test/api';
  const current = (): SigningKey => keys[keys.length - 1] as SigningKey;

  return {
    issuer,
    audience,
    jwksUrl: `${base}/jwks.json`,
    jwksRequests: () => requests,
    async mint(o: MintOptions = {}) {
      const key = current();
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT({
        ...(o.scope !== undefined ? { scope: o.scope } : {}),
        ...(o.tenant !== undefined ? { tenant: o.tenant } : {}),
        ...(o.clientId !== undefined ? { client_id: o.clientId } : {}),
        ...o.claims,
      })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
        .setIssuer(o.issuer ?? issuer)
        .setAudience(o.audience ?? audience)
        .setIssuedAt(now)
        .setExpirationTime(now + (o.expiresIn ?? 300))
        .setJti(randomUUID());
      if (o.sub !== undefined) jwt.setSubject(o.sub);
      if (o.notBefore !== undefined) jwt.setNotBefore(now + o.notBefore);
      return jwt.sign(key.privateKey);
    },
    async rotate(r = {}) {
      const next = await newKey(r.alg ?? current().alg);
      keys = r.retireOld ? [next] : [...keys, next];
    },
    publish: (jwk) => void published.push(jwk),
    env: () => ({
      AUTH_MODE: 'jwt',
      AUTH_ISSUER: issuer,
      AUTH_AUDIENCE: audience,
      AUTH_JWKS_URL: `${base}/jwks.json`,
      AUTH_TOKEN_URL: `${base}/token`,
    }),
    close: () => new Promise((r) => server.close(() => r())),
  };
}
