import type { JsonWebKey } from 'node:crypto';
import { createPublicKey, verify } from 'node:crypto';
import { z } from 'zod';

/** SMART Backend Services allows at most five minutes between now and `exp`. */
const MAX_LIFETIME_SECONDS = 300;
const CLOCK_SKEW_SECONDS = 30;

const headerSchema = z.object({ alg: z.enum(['RS384', 'ES384']), typ: z.string().optional(), kid: z.string().optional() });
const claimsSchema = z.object({
  iss: z.string(),
  sub: z.string(),
  aud: z.union([z.string(), z.array(z.string())]),
  exp: z.number(),
  jti: z.string().min(1),
});

/** What a client assertion is checked against. */
export interface AssertionContext {
  readonly clientId: string;
  readonly publicJwk: JsonWebKey;
  /** The token endpoint URL, which must be the JWT's `aud`. */
  readonly audience: string;
  readonly nowSeconds: number;
  /** `jti` values already used, with their `exp`; a replayed assertion is refused. */
  readonly seenJti: Map<string, number>;
}

/** A rejected assertion; the token endpoint answers `invalid_client`. */
export class AssertionError extends Error {}

/**
 * Verifies a `client_assertion` JWT: RS384 or ES384 signature by `publicJwk`,
 * iss = sub = client id, aud = token URL, unexpired with at most five minutes to live, and a
 * `jti` not seen before.
 * @see https://hl7.org/fhir/smart-app-launch/backend-services.html#authenticating-to-the-token-endpoint
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-3
 */
export function verifyClientAssertion(jwt: string, ctx: AssertionContext): void {
  const parts = jwt.split('.');
  const [headerPart, claimsPart, signaturePart] = parts;
  if (parts.length !== 3 || !headerPart || !claimsPart || !signaturePart) {
    throw new AssertionError('client_assertion is not a compact JWS');
  }
  const header = headerSchema.safeParse(decodeJson(headerPart));
  if (!header.success) {
    throw new AssertionError('client_assertion header must name alg RS384 or ES384');
  }
  const alg = header.data.alg;
  const key = importKey(ctx.publicJwk, alg);
  const signed = Buffer.from(`${headerPart}.${claimsPart}`);
  const signature = Buffer.from(signaturePart, 'base64url');
  // JWS ES384 signatures are raw r||s (IEEE P1363), not DER.
  const valid =
    alg === 'ES384' ? verify('sha384', signed, { key, dsaEncoding: 'ieee-p1363' }, signature) : verify('sha384', signed, key, signature);
  if (!valid) {
    throw new AssertionError('client_assertion signature does not verify');
  }
  const claims = claimsSchema.safeParse(decodeJson(claimsPart));
  if (!claims.success) {
    throw new AssertionError('client_assertion needs iss, sub, aud, exp and jti');
  }
  checkClaims(claims.data, ctx);
}

function checkClaims(claims: z.infer<typeof claimsSchema>, ctx: AssertionContext): void {
  if (claims.iss !== ctx.clientId || claims.sub !== ctx.clientId) {
    throw new AssertionError('client_assertion iss and sub must be the client id');
  }
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(ctx.audience)) {
    throw new AssertionError(`client_assertion aud must be ${ctx.audience}`);
  }
  if (claims.exp + CLOCK_SKEW_SECONDS <= ctx.nowSeconds) {
    throw new AssertionError('client_assertion has expired');
  }
  if (claims.exp > ctx.nowSeconds + MAX_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS) {
    throw new AssertionError('client_assertion exp is more than five minutes away');
  }
  for (const [jti, exp] of ctx.seenJti) {
    if (exp + CLOCK_SKEW_SECONDS <= ctx.nowSeconds) {
      ctx.seenJti.delete(jti);
    }
  }
  if (ctx.seenJti.has(claims.jti)) {
    throw new AssertionError('client_assertion jti was already used');
  }
  ctx.seenJti.set(claims.jti, claims.exp);
}

function importKey(jwk: JsonWebKey, alg: 'RS384' | 'ES384'): ReturnType<typeof createPublicKey> {
  const expected = alg === 'RS384' ? 'RSA' : 'EC';
  if (jwk.kty !== expected || (alg === 'ES384' && jwk.crv !== 'P-384')) {
    throw new AssertionError(`alg ${alg} does not fit the registered key`);
  }
  return createPublicKey({ key: jwk, format: 'jwk' });
}

function decodeJson(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}
