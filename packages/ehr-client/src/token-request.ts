import { classifyStatus, EhrError, type EhrErrorKind } from './errors';
import { isRecord, parseBody } from './reply';

/**
 * One OAuth 2.0 client-credentials token request, as both `client-credentials` and
 * SMART Backend Services use it.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 * @see http://hl7.org/fhir/smart-app-launch/backend-services.html#step-3-access-token
 */

export interface IssuedToken {
  readonly accessToken: string;
  /** `expires_in` as the server gave it; absent when the server did not say. */
  readonly expiresInSeconds?: number;
  /** `scope` as the server gave it: what was granted, when it differs from what was asked (RFC 6749 §5.1). */
  readonly scope?: string;
}

export interface TokenRequest {
  readonly tokenUrl: string;
  readonly form: Readonly<Record<string, string>>;
  /** Extra headers, e.g. HTTP Basic client authentication. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly fetch: typeof fetch;
  readonly timeoutMs: number;
  readonly userAgent?: string;
}

/**
 * Posts the form and parses the token response. Refusals (4xx, a malformed token) are
 * `auth` errors: configuration must change. But an unreachable or overloaded token
 * endpoint (5xx, 429, timeout, network) keeps its transient kind, so an identity-provider
 * outage is ridden out by the job queue like an EHR outage rather than failing every job.
 */
export async function requestToken(request: TokenRequest): Promise<IssuedToken> {
  const where = `EHR token endpoint ${request.tokenUrl}`;
  let response: Response;
  let text: string;
  try {
    response = await request.fetch(request.tokenUrl, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Accept: 'application/json',
        ...(request.userAgent ? { 'User-Agent': request.userAgent } : {}),
        ...request.headers,
      },
      body: new URLSearchParams(request.form).toString(),
      signal: AbortSignal.timeout(request.timeoutMs),
      // A token endpoint that redirects is misconfigured; do not replay credentials elsewhere.
      redirect: 'error',
    });
    text = await response.text();
  } catch (cause) {
    throw transportError(cause, where, request.timeoutMs);
  }

  const body = parseBody(text);
  if (!response.ok) {
    const { kind, retryAfterMs } = classifyStatus(response.status, response.headers);
    const oauthError = isRecord(body) && typeof body['error'] === 'string' ? body['error'] : undefined;
    const description = isRecord(body) && typeof body['error_description'] === 'string' ? `: ${body['error_description']}` : '';
    const tokenKind: EhrErrorKind = kind === 'retryable' || kind === 'rate-limited' ? kind : 'auth';
    throw new EhrError(tokenKind, `${where} answered ${response.status}${oauthError ? ` ${oauthError}` : ''}${description}`, {
      status: response.status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }

  if (!isRecord(body) || typeof body['access_token'] !== 'string' || body['access_token'] === '') {
    throw new EhrError('auth', `${where} returned no access_token`, { status: response.status });
  }
  const tokenType = body['token_type'];
  // RFC 6749 makes token_type case-insensitive; only bearer tokens can be sent as we send them.
  if (typeof tokenType === 'string' && tokenType.toLowerCase() !== 'bearer') {
    throw new EhrError('auth', `${where} issued a ${tokenType} token; only bearer is supported`, { status: response.status });
  }
  const expiresInSeconds = parseExpiresIn(body['expires_in']);
  const scope = typeof body['scope'] === 'string' ? body['scope'].trim() : undefined;
  return {
    accessToken: body['access_token'],
    ...(expiresInSeconds === undefined ? {} : { expiresInSeconds }),
    ...(scope === undefined ? {} : { scope }),
  };
}

/** Maps a fetch rejection to a `timeout` or `network` error. Shared with the FHIR client. */
export function transportError(cause: unknown, where: string, timeoutMs: number): EhrError {
  if (cause instanceof EhrError) return cause;
  // Duck-typed: the DOMException fetch throws on abort may come from another realm.
  const name = typeof cause === 'object' && cause !== null && 'name' in cause ? String(cause.name) : '';
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new EhrError('timeout', `${where} did not answer within ${timeoutMs} ms`, { cause });
  }
  const detail = cause instanceof Error ? `: ${describe(cause)}` : '';
  return new EhrError('network', `${where} could not be reached${detail}`, { cause });
}

/** Some servers send `expires_in` as a numeric string; accept both, reject nonsense. */
function parseExpiresIn(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
}

/** fetch wraps the useful part (ECONNREFUSED, ENOTFOUND, a TLS error) in `cause`. */
function describe(error: Error): string {
  const inner = error.cause;
  if (inner instanceof Error) {
    const code = (inner as NodeJS.ErrnoException).code;
    return `${error.message} (${code ?? inner.message})`;
  }
  return error.message;
}
