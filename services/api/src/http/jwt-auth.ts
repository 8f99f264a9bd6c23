import { readFile } from 'node:fs/promises';
import { DEFAULT_TENANT_ID, type Config } from '@kap/config';
import { OutcomeError, operationOutcome } from '@kap/fhir';
import type { RequestHandler } from 'express';
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { setCaller, type Caller } from './caller';

/** Asymmetric algorithms only: `none` and HMAC (where a public key could pose as the secret) are refused. */
export const ACCEPTED_ALGORITHMS = ['RS256', 'RS384', 'ES256', 'ES384'];

/**
 * Paths anyone may read (docs/api.md#authentication-and-tenants): probes, the contract, the FHIR CapabilityStatement and the SMART
 * discovery document.
 */
export const PUBLIC_PATHS: readonly RegExp[] = [
  /^\/health$/,
  /^\/ready$/,
  /^\/openapi\.json$/,
  /^\/docs(\/|$)/,
  /^\/fhir\/R4\/metadata$/,
  /^\/\.well-known\/smart-configuration$/,
];

/** At most one JWKS download per this many ms for unknown key ids, so random `kid`s cannot flood the issuer. */
const JWKS_COOLDOWN_MS = 1_000;

const unauthorized = (diagnostics: string, error = 'invalid_token'): OutcomeError =>
  new OutcomeError(401, operationOutcome([{ code: 'login', diagnostics }]), {
    'WWW-Authenticate': `Bearer realm="kap-adapter", error="${error}"`,
  });

/**
 * The issuer's keys: a remote JWKS, cached by jose, or a file. A token naming a key the cache
 * does not hold makes it read the keys again, so a rotation needs no restart.
 */
export function issuerKeys(config: Config): JWTVerifyGetKey {
  if (config.AUTH_JWKS_URL) {
    const remote = createRemoteJWKSet(new URL(config.AUTH_JWKS_URL), {
      cooldownDuration: JWKS_COOLDOWN_MS,
      cacheMaxAge: 600_000,
      timeoutDuration: 5_000,
    });
    return reloadingOnUnknownKey(remote, () => remote.reload());
  }
  if (config.AUTH_JWKS_FILE) {
    const path = config.AUTH_JWKS_FILE;
    let keys: JWTVerifyGetKey | undefined;
    const load = async (): Promise<void> => {
      keys = createLocalJWKSet(JSON.parse(await readFile(path, 'utf8')) as JSONWebKeySet);
    };
    return reloadingOnUnknownKey(async (header, token) => {
      if (!keys) await load();
      return (keys as JWTVerifyGetKey)(header, token);
    }, load);
  }
  throw new Error('AUTH_JWKS_URL or AUTH_JWKS_FILE is required when AUTH_MODE=jwt');
}

/**
 * On a key id the cache does not hold, reads the keys again and looks once more. Reads are
 * at most one per cooldown, shared by every request waiting: a flood of made-up `kid`s
 * waits, it does not flood the issuer. A rotation is seen even right after the last read,
 * which jose's own cooldown would refuse.
 */
function reloadingOnUnknownKey(getKey: JWTVerifyGetKey, reload: () => Promise<void>): JWTVerifyGetKey {
  let lastReload = 0;
  let reloading: Promise<void> | undefined;
  const reloadOnce = (): Promise<void> => {
    reloading ??= (async () => {
      const wait = lastReload + JWKS_COOLDOWN_MS - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      try {
        await reload();
      } finally {
        lastReload = Date.now();
        reloading = undefined;
      }
    })();
    return reloading;
  };
  return async (header, token) => {
    try {
      return await getKey(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      await reloadOnce();
      return getKey(header, token);
    }
  };
}

/** What a verified token says about its caller. */
export function callerFromClaims(payload: JWTPayload, tenantClaim: string): Omit<Caller, 'tenantId'> & { tenantId: string | undefined } {
  const text = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
  const scope = payload.scope ?? payload.scp;
  const scopes = Array.isArray(scope)
    ? scope.filter((s): s is string => typeof s === 'string')
    : (text(scope) ?? '').split(/\s+/).filter(Boolean);
  const subject = text(payload.sub);
  return {
    tenantId: text(payload[tenantClaim]),
    clientId: text(payload.client_id) ?? text(payload.azp) ?? subject ?? 'unknown-client',
    ...(subject ? { subject } : {}),
    scopes: new Set(scopes),
  };
}

/** Why a token was refused, in words that help its owner and give an attacker nothing new. */
function refusal(error: unknown): OutcomeError {
  if (error instanceof errors.JWTExpired) return unauthorized('The bearer token has expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return unauthorized('The bearer token is not valid yet');
    return unauthorized(`The bearer token's ${error.claim} claim is not accepted`);
  }
  // The issuer's keys could not be read (a timeout, or the download failed): an outage, not the caller's fault.
  const keysUnreadable = error instanceof errors.JWKSTimeout || !(error instanceof errors.JOSEError);
  if (keysUnreadable) {
    return new OutcomeError(
      503,
      operationOutcome([{ code: 'transient', diagnostics: "The token issuer's keys could not be read; try again" }]),
      { 'Retry-After': '5' },
    );
  }
  return unauthorized('The bearer token is not valid: its signature, algorithm or key is not accepted');
}

/**
 * Why a token was refused (401), in a few words for the deployment's audit record; `undefined`
 * when it was not refused (the issuer's keys were unreadable).
 */
export function refusalReason(error: unknown): string | undefined {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed)
    return error.claim === 'nbf' ? 'not valid yet' : `${error.claim} claim not accepted`;
  if (error instanceof errors.JWKSTimeout || !(error instanceof errors.JOSEError)) return undefined;
  return 'signature, algorithm or key not accepted';
}

export interface JwtAuthOptions {
  /**
   * Told of each refusal (401) with the raw token, if any, for the deployment's audit record
   * (which keeps the client the token claims, never the token).
   */
  readonly onRefused?: (refused: { readonly token?: string; readonly reason: string; readonly address?: string }) => void;
  /** Whether a tenant id names a configured tenant; a token of an unknown tenant is 403. */
  readonly isKnownTenant: (tenantId: string) => boolean;
  /** The key source; defaults to the configured JWKS. */
  readonly keys?: JWTVerifyGetKey;
}

/**
 * AUTH_MODE=jwt: every path but the public ones needs `Authorization: Bearer <JWT>` signed by
 * the issuer's key, with its `iss` and `aud`, within `exp`/`nbf`; the caller it names (client,
 * tenant, scopes) is recorded for the routes, which check scopes. Without a tenant claim the
 * token belongs to the default tenant.
 */
export function jwtAuth(config: Config, options: JwtAuthOptions): RequestHandler {
  const keys = options.keys ?? issuerKeys(config);
  const verifyOptions = {
    issuer: config.AUTH_ISSUER as string,
    audience: config.AUTH_AUDIENCE as string,
    algorithms: ACCEPTED_ALGORITHMS,
    clockTolerance: config.AUTH_CLOCK_TOLERANCE_S,
    requiredClaims: ['exp'],
  };
  return (req, res, next) => {
    if (PUBLIC_PATHS.some((p) => p.test(req.path))) return next();
    const token = /^Bearer\s+(\S+)$/i.exec(req.get('Authorization') ?? '')?.[1];
    if (!token) {
      options.onRefused?.({ reason: 'no bearer token', ...(req.ip ? { address: req.ip } : {}) });
      return next(unauthorized('An Authorization: Bearer token is required', 'invalid_request'));
    }
    jwtVerify(token, keys, verifyOptions).then(
      ({ payload }) => {
        const claims = callerFromClaims(payload, config.AUTH_TENANT_CLAIM);
        const tenantId = claims.tenantId ?? DEFAULT_TENANT_ID;
        if (!options.isKnownTenant(tenantId)) {
          return next(
            new OutcomeError(403, operationOutcome([{ code: 'forbidden', diagnostics: "The token's tenant is not served here" }])),
          );
        }
        setCaller(res, { ...claims, tenantId });
        next();
      },
      (error: unknown) => {
        const reason = refusalReason(error);
        if (reason) options.onRefused?.({ token, reason, ...(req.ip ? { address: req.ip } : {}) });
        next(refusal(error));
      },
    );
  };
}
