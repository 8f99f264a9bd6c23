import { parseRetryAfter } from './retry-after';
import type { OperationOutcome } from '@medplum/fhirtypes';

/**
 * What went wrong talking to the EHR, sorted by what the caller should do about it.
 * The client never retries by itself (the job queue owns retry scheduling); it only says
 * which kind of failure this was and, when the server said so, how long to wait.
 *
 * - `retryable`: 408 or 5xx — the server could not answer now; back off and retry.
 * - `rate-limited`: 429 — wait `retryAfterMs` (when given) before the next attempt.
 * - `conflict`: 409 — a concurrent write won; re-read, re-apply, retry.
 * - `precondition-failed`: 412 — the `If-Match` version is stale; re-read, re-apply, retry.
 * - `auth`: 401/403, or the token endpoint refused the credentials; fix configuration.
 * - `rejected`: any other 4xx, or a reply we cannot use; a retry cannot fix it.
 * - `not-found`: 404/410.
 * - `timeout`: no complete reply within the configured time; the write may or may not
 *   have happened, which is safe because every write is conditional.
 * - `network`: DNS, TCP or TLS failure before a reply.
 * @see http://hl7.org/fhir/R4/http.html#summary
 */
export type EhrErrorKind =
  'retryable' | 'rate-limited' | 'conflict' | 'precondition-failed' | 'auth' | 'rejected' | 'not-found' | 'timeout' | 'network';

export interface EhrErrorDetails {
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly outcome?: OperationOutcome;
  readonly cause?: unknown;
}

/** An EHR request failed; `kind` says what to do next. */
export class EhrError extends Error {
  override name = 'EhrError';
  readonly kind: EhrErrorKind;
  readonly status?: number;
  /** How long the server asked us to wait (`Retry-After`), in milliseconds. */
  readonly retryAfterMs?: number;
  /** The OperationOutcome the server returned with the error, when it returned one. */
  readonly outcome?: OperationOutcome;

  constructor(kind: EhrErrorKind, message: string, details: EhrErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = kind;
    if (details.status !== undefined) this.status = details.status;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
    if (details.outcome !== undefined) this.outcome = details.outcome;
  }

  /**
   * Whether another attempt may succeed. Conflicts and stale preconditions count: the
   * caller re-reads and re-applies before retrying. `auth`, `rejected` and `not-found`
   * need a person or a different request, so a queue should stop retrying them.
   */
  get transient(): boolean {
    return TRANSIENT.has(this.kind);
  }
}

const TRANSIENT: ReadonlySet<EhrErrorKind> = new Set<EhrErrorKind>([
  'retryable',
  'rate-limited',
  'conflict',
  'precondition-failed',
  'timeout',
  'network',
]);

/** True when `value` is an {@link EhrError}. */
export function isEhrError(value: unknown): value is EhrError {
  return value instanceof EhrError;
}

/** Response headers as fetch gives them, or a plain record (keys compared case-insensitively). */
export type HeaderSource = Headers | Readonly<Record<string, string | undefined>>;

/** Reads one header from either form of {@link HeaderSource}. */
export function headerValue(headers: HeaderSource, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/** The kind of an unsuccessful HTTP status, plus the server's requested wait when it gave one. */
export interface StatusClassification {
  readonly kind: EhrErrorKind;
  readonly retryAfterMs?: number;
}

/**
 * Classifies a non-2xx status from a FHIR server. Pure: `now` is only used to turn a
 * `Retry-After` HTTP date into a delay.
 *
 * 501 (Not Implemented) and 505 are `rejected` rather than `retryable`: the server does not
 * support the interaction at all (for example transactions), and an hour of retries would
 * only hide that. `Retry-After` is honoured on any status, since 503 may carry it too.
 * @see http://hl7.org/fhir/R4/http.html#summary
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-15
 */
export function classifyStatus(status: number, headers: HeaderSource, now: number = Date.now()): StatusClassification {
  const retryAfterMs = parseRetryAfter(headerValue(headers, 'retry-after'), now);
  const kind = kindOfStatus(status);
  return retryAfterMs === undefined ? { kind } : { kind, retryAfterMs };
}

function kindOfStatus(status: number): EhrErrorKind {
  if (status === 501 || status === 505) return 'rejected';
  if (status === 408 || (status >= 500 && status <= 599)) return 'retryable';
  switch (status) {
    case 429:
      return 'rate-limited';
    case 409:
      return 'conflict';
    case 412:
      return 'precondition-failed';
    case 401:
    case 403:
      return 'auth';
    case 404:
    case 410:
      return 'not-found';
    default:
      // Any other 4xx (400, 405, 415, 422, ...) is a request the server will never accept;
      // anything outside 4xx/5xx reaching here is a reply we do not understand.
      return 'rejected';
  }
}
