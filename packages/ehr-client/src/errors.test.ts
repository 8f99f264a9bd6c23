import { classifyStatus, EhrError } from './errors';
import { parseRetryAfter } from './retry-after';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

describe('classifyStatus', () => {
  it.each([
    [408, 'retryable'],
    [500, 'retryable'],
    [502, 'retryable'],
    [503, 'retryable'],
    [504, 'retryable'],
    [429, 'rate-limited'],
    [409, 'conflict'],
    [412, 'precondition-failed'],
    [401, 'auth'],
    [403, 'auth'],
    [404, 'not-found'],
    [410, 'not-found'],
    [400, 'rejected'],
    [405, 'rejected'],
    [415, 'rejected'],
    [422, 'rejected'],
    [501, 'rejected'],
  ] as const)('classifies %i as %s', (status, kind) => {
    expect(classifyStatus(status, {}, NOW)).toEqual({ kind });
  });

  it('reads Retry-After in seconds, case-insensitively, from a plain record', () => {
    expect(classifyStatus(429, { 'retry-after': '7' }, NOW)).toEqual({ kind: 'rate-limited', retryAfterMs: 7000 });
    expect(classifyStatus(429, { 'Retry-After': '0' }, NOW)).toEqual({ kind: 'rate-limited', retryAfterMs: 0 });
  });

  it('reads Retry-After as an HTTP date from fetch Headers, also on 503', () => {
    const headers = new Headers({ 'Retry-After': new Date(NOW + 90_000).toUTCString() });
    expect(classifyStatus(503, headers, NOW)).toEqual({ kind: 'retryable', retryAfterMs: 90_000 });
  });
});

describe('parseRetryAfter', () => {
  it('parses delta-seconds', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 3 ', NOW)).toBe(3000);
  });

  it('parses the IMF-fixdate, obsolete RFC 850 and asctime forms', () => {
    expect(parseRetryAfter('Wed, 15 Jan 2025 12:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter('Wednesday, 15-Jan-25 12:01:00 GMT', NOW)).toBe(60_000);
    expect(parseRetryAfter('Wed Jan 15 12:02:00 2025', NOW)).toBe(120_000);
  });

  it('treats a date in the past as no wait', () => {
    expect(parseRetryAfter('Wed, 15 Jan 2025 11:00:00 GMT', NOW)).toBe(0);
  });

  it.each([undefined, null, '', 'soon', '-5', '1.5', '2025-01-15'])('ignores %p', (value) => {
    // Signed or decimal numbers and ISO dates are not Retry-After forms, though Date.parse reads them.
    expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });

  it('reads a bare number as seconds, never as a year', () => {
    expect(parseRetryAfter('2025', NOW)).toBe(2_025_000);
  });
});

describe('EhrError', () => {
  it('carries status, retry delay and outcome, and says whether a retry can help', () => {
    const error = new EhrError('rate-limited', 'slow down', {
      status: 429,
      retryAfterMs: 5000,
      outcome: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'throttled' }] },
    });
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'EhrError', kind: 'rate-limited', status: 429, retryAfterMs: 5000 });
    expect(error.outcome?.issue[0]?.code).toBe('throttled');
    expect(error.transient).toBe(true);
    expect(new EhrError('rejected', 'no').transient).toBe(false);
    expect(new EhrError('auth', 'no').transient).toBe(false);
    expect(new EhrError('precondition-failed', 'stale').transient).toBe(true);
  });
});
