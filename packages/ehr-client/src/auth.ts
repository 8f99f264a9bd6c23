import { createAssertionSigner, CLIENT_ASSERTION_TYPE, type AssertionAlgorithm } from './client-assertion';
import { requestToken, type IssuedToken } from './token-request';

/**
 * How the adapter authenticates to the hospital EHR.
 * - `none`: an open server (sandboxes, a trusted network segment).
 * - `bearer`: a fixed token issued out of band.
 * - `client-credentials`: OAuth 2.0 client credentials with a shared secret
 *   (`client_secret_basic`).
 * - `smart-backend`: SMART Backend Services, a JWT client assertion signed with our key.
 * @see http://hl7.org/fhir/R4/security.html
 * @see http://hl7.org/fhir/smart-app-launch/backend-services.html
 */
export type EhrAuth =
  | { mode: 'none' }
  | { mode: 'bearer'; token: string }
  | { mode: 'client-credentials'; tokenUrl: string; clientId: string; clientSecret: string; scope?: string }
  | {
      mode: 'smart-backend';
      tokenUrl: string;
      clientId: string;
      privateKeyPem: string;
      keyId: string;
      algorithm?: AssertionAlgorithm;
      scope?: string;
    };

/** Supplies access tokens for EHR requests. */
export interface TokenProvider {
  /** A token that is valid now, or `undefined` when the connection needs none. */
  getToken(): Promise<string | undefined>;
  /**
   * The scopes asked for and granted with the current token; `undefined` before the first
   * token, or for modes without a token request. `granted` is what the token endpoint said,
   * or what was asked when it said nothing (RFC 6749 §5.1).
   */
  grant(): TokenGrant | undefined;
  /**
   * Drops the cached token after the EHR refused it (401). Pass the refused token: when
   * several requests fail with the same old token, only the first invalidation counts and
   * they all share the one renewed token.
   */
  invalidate(refusedToken?: string): void;
}

export interface TokenGrant {
  readonly asked?: string;
  readonly granted?: string;
}

export interface TokenProviderOptions {
  /**
   * The scopes to ask for when the connection names none (`EHR_SCOPE` unset): resolved
   * at each token request, so a changed CapabilityStatement changes the next token.
   */
  readonly scope?: () => Promise<string | undefined>;
  /** Told of every token granted, to log what was asked and what was granted. */
  readonly onGrant?: (grant: TokenGrant) => void;
  readonly fetch?: typeof fetch;
  /** Token endpoint timeout. Default 15 s. */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
  /** Clock in epoch milliseconds; inject for tests. */
  readonly now?: () => number;
  /** Renew this long before expiry (at most half the lifetime). Default 60 s. */
  readonly renewBeforeMs?: number;
  /** Lifetime assumed when the server omits `expires_in`. Default 300 s, SMART's recommendation. */
  readonly defaultLifetimeSeconds?: number;
}

interface CachedToken {
  readonly token: string;
  readonly renewAtMs: number;
  readonly expiresAtMs: number;
}

/**
 * A token provider for the configured mode. Tokens are cached and renewed ahead of
 * expiry; concurrent callers share one token request (single flight), so a burst of sync
 * jobs never stampedes the identity provider. If a renewal fails while the old token has
 * not yet expired, the old token is used, since the renewal was only precautionary.
 */
export function createTokenProvider(auth: EhrAuth, options: TokenProviderOptions = {}): TokenProvider {
  switch (auth.mode) {
    case 'none':
      return { getToken: () => Promise.resolve(undefined), grant: () => undefined, invalidate: () => undefined };
    case 'bearer':
      // A fixed token cannot be renewed; a 401 retry with it will fail again and say so.
      return { getToken: () => Promise.resolve(auth.token), grant: () => undefined, invalidate: () => undefined };
    case 'client-credentials':
    case 'smart-backend': {
      // A configured scope (EHR_SCOPE) is an override; otherwise ask for what the adapter needs.
      const scope = auth.scope ? () => Promise.resolve(auth.scope) : (options.scope ?? (() => Promise.resolve(undefined)));
      return cachingProvider(tokenFetcher(auth, options), scope, options);
    }
  }
}

type TokenFetcher = (nowMs: number, scope: string | undefined) => Promise<IssuedToken>;

function tokenFetcher(
  auth: Extract<EhrAuth, { mode: 'client-credentials' | 'smart-backend' }>,
  options: TokenProviderOptions,
): TokenFetcher {
  const common = {
    tokenUrl: auth.tokenUrl,
    fetch: options.fetch ?? fetch,
    timeoutMs: options.timeoutMs ?? 15_000,
    ...(options.userAgent ? { userAgent: options.userAgent } : {}),
  };
  const scopeField = (scope: string | undefined): Record<string, string> => (scope ? { scope } : {});
  if (auth.mode === 'client-credentials') {
    // RFC 6749 §2.3.1: id and secret are form-encoded before being joined and base64-encoded.
    const basic = Buffer.from(`${formEncode(auth.clientId)}:${formEncode(auth.clientSecret)}`).toString('base64');
    return (_nowMs, scope) =>
      requestToken({
        ...common,
        headers: { Authorization: `Basic ${basic}` },
        form: { grant_type: 'client_credentials', ...scopeField(scope) },
      });
  }
  const signer = createAssertionSigner(auth);
  return async (nowMs, scope) =>
    requestToken({
      ...common,
      form: {
        grant_type: 'client_credentials',
        ...scopeField(scope),
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: await signer.sign(nowMs),
      },
    });
}

function cachingProvider(
  fetchToken: TokenFetcher,
  scopeFor: () => Promise<string | undefined>,
  options: TokenProviderOptions,
): TokenProvider {
  const now = options.now ?? Date.now;
  const renewBeforeMs = options.renewBeforeMs ?? 60_000;
  const defaultLifetimeSeconds = options.defaultLifetimeSeconds ?? 300;
  let cached: CachedToken | undefined;
  let inFlight: Promise<string> | undefined;
  let grant: TokenGrant | undefined;

  const renew = async (): Promise<string> => {
    // Lifetime counts from before the request, so network latency only makes us renew earlier.
    const requestedAt = now();
    const stale = cached;
    try {
      const asked = await scopeFor();
      const issued = await fetchToken(requestedAt, asked);
      const granted = issued.scope ?? asked;
      grant = { ...(asked ? { asked } : {}), ...(granted ? { granted } : {}) };
      options.onGrant?.(grant);
      const lifetimeMs = (issued.expiresInSeconds ?? defaultLifetimeSeconds) * 1000;
      cached = {
        token: issued.accessToken,
        expiresAtMs: requestedAt + lifetimeMs,
        renewAtMs: requestedAt + lifetimeMs - Math.min(renewBeforeMs, lifetimeMs / 2),
      };
      return issued.accessToken;
    } catch (error) {
      if (stale && stale === cached && now() < stale.expiresAtMs) return stale.token;
      throw error;
    }
  };

  return {
    getToken: () => {
      if (cached && now() < cached.renewAtMs) return Promise.resolve(cached.token);
      inFlight ??= renew().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
    grant: () => grant,
    invalidate: (refusedToken) => {
      if (refusedToken === undefined || cached?.token === refusedToken) cached = undefined;
    },
  };
}

function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}
