import { attemptsToSpan, syncBackoffMs } from './backoff';

const HOUR = 60 * 60_000;

describe('syncBackoffMs', () => {
  it('doubles from the base up to the cap (equal jitter at its extremes)', () => {
    const low = (n: number): number => syncBackoffMs(n, { jitter: () => 0 });
    const high = (n: number): number => syncBackoffMs(n, { jitter: () => 0.999999 });
    expect([1, 2, 3, 4].map(low)).toEqual([1000, 2000, 4000, 8000]);
    expect([1, 2, 3, 4].map(high)).toEqual([2000, 4000, 8000, 16000]);
    expect(low(20)).toBe(150_000);
    expect(high(20)).toBe(300_000);
    expect(high(10_000)).toBe(300_000);
  });

  it('spreads full jitter over [0, ceiling)', () => {
    expect(syncBackoffMs(3, { strategy: 'full', jitter: () => 0 })).toBe(0);
    expect(syncBackoffMs(3, { strategy: 'full', jitter: () => 0.5 })).toBe(4000);
  });

  it('honours base and cap, and treats attempt 0 like the first', () => {
    expect(syncBackoffMs(0, { baseMs: 500, jitter: () => 0 })).toBe(250);
    expect(syncBackoffMs(6, { baseMs: 500, capMs: 4000, jitter: () => 0.999999 })).toBe(4000);
  });

  it('stays within bounds for any draw, even a bad one', () => {
    for (const r of [-1, 0, 0.3, 0.99, 1, 7, Number.NaN]) {
      const delay = syncBackoffMs(5, { jitter: () => r });
      expect(delay).toBeGreaterThanOrEqual(16_000);
      expect(delay).toBeLessThanOrEqual(32_000);
    }
  });

  it('refuses nonsense options', () => {
    expect(() => syncBackoffMs(1, { baseMs: 0 })).toThrow(RangeError);
    expect(() => syncBackoffMs(1, { baseMs: 10, capMs: 5 })).toThrow(RangeError);
  });
});

describe('attemptsToSpan', () => {
  /** The least total delay `attempts` attempts can give under equal jitter. */
  const minimumSpan = (attempts: number, options = {}): number => {
    let total = 0;
    for (let n = 1; n < attempts; n++) total += syncBackoffMs(n, { ...options, jitter: () => 0 });
    return total;
  };

  it('gives enough attempts to ride out an hour-long outage with the defaults', () => {
    const attempts = attemptsToSpan(HOUR);
    expect(minimumSpan(attempts)).toBeGreaterThanOrEqual(HOUR);
    expect(minimumSpan(attempts - 1)).toBeLessThan(HOUR);
    expect(attempts).toBe(32);
  });

  it('is minimal for other spans and options', () => {
    for (const [span, options] of [
      [10_000, {}],
      [HOUR, { baseMs: 1000, capMs: 60_000 }],
      [6 * HOUR, { baseMs: 5000, capMs: 10 * 60_000 }],
    ] as const) {
      const attempts = attemptsToSpan(span, options);
      expect(minimumSpan(attempts, options)).toBeGreaterThanOrEqual(span);
      expect(minimumSpan(attempts - 1, options)).toBeLessThan(span);
    }
  });

  it('needs a single attempt for no span', () => {
    expect(attemptsToSpan(0)).toBe(1);
  });
});
