import type { TokenProvider } from './auth';
import { classifyStatus, EhrError } from './errors';
import { asOperationOutcome, outcomeSummary, parseBody, PARSE_FAILURE } from './reply';
import { interactionName, type ScopeInteraction } from './scopes';
import { transportError } from './token-request';

/**
 * One FHIR REST exchange with the EHR: headers, authorization, timeout, a single retry
 * after a 401, and the mapping of every failure to an {@link EhrError}.
 * @see http://hl7.org/fhir/R4/http.html
 */

export const FHIR_JSON = 'application/fhir+json';

export interface FhirRequest {
  readonly method: 'GET' | 'POST' | 'PUT';
  /** Absolute URL. */
  readonly url: string;
  /** A resource to send as JSON. */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** What this request is, for error messages ("read Patient/123"). */
  readonly what: string;
  /** The type and interaction a token scope must allow, to name it when the EHR answers 403. */
  readonly access?: { readonly type: string; readonly interaction: ScopeInteraction };
  /** Sent without a token: the CapabilityStatement, which SMART servers serve to anyone. */
  readonly anonymous?: boolean;
}

export interface FhirReply {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON, or `undefined` for an empty body. */
  readonly body: unknown;
}

export interface FhirHttpOptions {
  readonly tokens: TokenProvider;
  readonly timeoutMs: number;
  readonly userAgent?: string;
  readonly fetch: typeof fetch;
  readonly now: () => number;
}

export type FhirSend = (request: FhirRequest) => Promise<FhirReply>;

/**
 * Creates the sender. It resolves with 2xx replies only; every other outcome rejects with
 * an EhrError carrying the status, `Retry-After` and the server's OperationOutcome.
 * A 401 drops the cached token and retries once with a fresh one, because tokens can be
 * revoked or expire early on the server side; a second 401 is reported as `auth`.
 */
export function createFhirSend(options: FhirHttpOptions): FhirSend {
  const exchange = async (request: FhirRequest, token: string | undefined): Promise<FhirReply> => {
    const headers: Record<string, string> = {
      Accept: FHIR_JSON,
      ...(request.body === undefined ? {} : { 'Content-Type': `${FHIR_JSON}; charset=utf-8` }),
      ...(options.userAgent ? { 'User-Agent': options.userAgent } : {}),
      ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
      ...request.headers,
    };
    try {
      const response = await options.fetch(request.url, {
        method: request.method,
        headers,
        ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
        signal: AbortSignal.timeout(options.timeoutMs),
        // Redirects are reported, not followed: a POST would silently become a GET, and
        // the bearer token must not travel to a host nobody configured.
        redirect: 'manual',
      });
      // The body is read under the same timeout: a server that stalls mid-body is as
      // unavailable as one that never answers.
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: parseBody(text) };
    } catch (cause) {
      throw transportError(cause, `EHR ${request.what}`, options.timeoutMs);
    }
  };

  return async (request) => {
    if (request.anonymous) return checked(request, await exchange(request, undefined), options.now());
    const token = await options.tokens.getToken();
    let reply = await exchange(request, token);
    if (reply.status === 401 && token !== undefined) {
      options.tokens.invalidate(token);
      const renewed = await options.tokens.getToken();
      // A fixed bearer token cannot change, so repeating the request would only repeat the 401.
      if (renewed !== token) reply = await exchange(request, renewed);
    }
    return checked(request, reply, options.now(), options.tokens);
  };
}

function checked(request: FhirRequest, reply: FhirReply, now: number, tokens?: TokenProvider): FhirReply {
  const { status } = reply;
  if (status >= 200 && status <= 299) {
    if (reply.body === PARSE_FAILURE) {
      // Often an HTML page from a proxy or load balancer during maintenance; worth a retry.
      throw new EhrError('retryable', `EHR ${request.what} answered ${status} with a body that is not JSON`, { status });
    }
    return reply;
  }
  if (status >= 300 && status <= 399) {
    const location = reply.headers.get('location');
    throw new EhrError(
      'rejected',
      `EHR ${request.what} was redirected (${status}${location ? ` to ${location}` : ''}); configure the final base URL`,
      { status },
    );
  }
  const { kind, retryAfterMs } = classifyStatus(status, reply.headers, now);
  const outcome = asOperationOutcome(reply.body);
  const forbidden = status === 403 ? forbiddenDetail(request, tokens) : '';
  throw new EhrError(kind, `EHR ${request.what} answered ${status}${outcomeSummary(outcome)}${forbidden}`, {
    status,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(outcome === undefined ? {} : { outcome }),
  });
}

/**
 * What hospital IT needs to fix a 403: the type and interaction refused and the scopes the
 * token was asked for and granted, so the dead letter names the grant to add.
 */
function forbiddenDetail(request: FhirRequest, tokens: TokenProvider | undefined): string {
  const grant = tokens?.grant();
  // Granted first: it is what the EHR holds the request to, and long scope lists get cut.
  const scopes = grant ? `; token scopes granted "${grant.granted ?? '(not said)'}", asked "${grant.asked ?? '(none)'}"` : '';
  if (!request.access) return scopes;
  return `; the EHR does not let this client ${interactionName(request.access.interaction)} ${request.access.type}${scopes}`;
}
