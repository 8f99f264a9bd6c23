/**
 * Retry delays for EHR sync jobs. The client itself never loops; the job queue calls
 * {@link syncBackoffMs} from its backoff strategy and sizes `attempts` with
 * {@link attemptsToSpan} so that a hospital EHR's maintenance window or an hour's outage
 * is ridden out without losing the job.
 * @see http://hl7.org/fhir/R4/http.html#summary
 */

/** How the random part of a delay is drawn. */
export type JitterStrategy =
  /** Uniform in [0, ceiling): spreads retries the most, but a delay may be near zero. */
  | 'full'
  /** Uniform in [ceiling/2, ceiling): still spread, and never shorter than half. */
  | 'equal';

export interface BackoffOptions {
  /** Ceiling of the first retry's delay. Default 2 s. */
  readonly baseMs?: number;
  /** No delay ceiling exceeds this. Default 5 min. */
  readonly capMs?: number;
  /** Source of randomness in [0, 1). Default `Math.random`; inject for tests. */
  readonly jitter?: () => number;
  /** Default `equal`, so that {@link attemptsToSpan} can promise a minimum span. */
  readonly strategy?: JitterStrategy;
}

export const DEFAULT_BACKOFF_BASE_MS = 2_000;
export const DEFAULT_BACKOFF_CAP_MS = 5 * 60_000;

/**
 * The delay before the next attempt after `attemptsMade` failed attempts (1 after the
 * first failure, as BullMQ counts): `min(cap, base * 2^(attemptsMade-1))`, jittered so
 * that many jobs failing together do not retry in lockstep.
 */
export function syncBackoffMs(attemptsMade: number, options: BackoffOptions = {}): number {
  const { baseMs, capMs } = resolved(options);
  const random = options.jitter ?? Math.random;
  const ceiling = ceilingMs(attemptsMade, baseMs, capMs);
  const r = clampUnit(random());
  return Math.round(options.strategy === 'full' ? ceiling * r : ceiling / 2 + (ceiling / 2) * r);
}

/**
 * How many attempts in total (the first one included, BullMQ's `attempts`) are needed so
 * that the delays between them add up to at least `durationMs`, whatever the jitter draws.
 * With `full` jitter no span can be promised (every delay may be ~0), so the expected
 * delay (half the ceiling) is used instead, and the answer holds only on average.
 */
export function attemptsToSpan(durationMs: number, options: BackoffOptions = {}): number {
  const { baseMs, capMs } = resolved(options);
  if (!(durationMs > 0)) return 1;
  let attempts = 1;
  let spanned = 0;
  while (spanned < durationMs) {
    // Both strategies give half the ceiling here: equal's minimum, full's mean.
    spanned += ceilingMs(attempts, baseMs, capMs) / 2;
    attempts += 1;
  }
  return attempts;
}

function ceilingMs(attemptsMade: number, baseMs: number, capMs: number): number {
  // Exponent bounded so 2^n stays finite; the cap takes over long before that.
  const exponent = Math.min(Math.max(Math.floor(attemptsMade), 1) - 1, 52);
  return Math.min(capMs, baseMs * 2 ** exponent);
}

function resolved(options: BackoffOptions): { baseMs: number; capMs: number } {
  const baseMs = options.baseMs ?? DEFAULT_BACKOFF_BASE_MS;
  const capMs = options.capMs ?? DEFAULT_BACKOFF_CAP_MS;
  if (!(baseMs > 0) || !Number.isFinite(baseMs)) throw new RangeError(`baseMs must be a positive number, got ${baseMs}`);
  if (!(capMs >= baseMs) || !Number.isFinite(capMs)) throw new RangeError(`capMs must be a number >= baseMs, got ${capMs}`);
  return { baseMs, capMs };
}

function clampUnit(value: number): number {
  if (!Number.isFinite(value) || value < 0) return 0;
  return value >= 1 ? 1 : value;
}
