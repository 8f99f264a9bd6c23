/** Output of the benchmarks: one line per figure, `name: value unit`, and ratios as `name: value x`. */

export function figure(name: string, value: number, unit: string): void {
  process.stdout.write(`${name}: ${format(value)} ${unit}\n`);
}

export function ratio(name: string, value: number): void {
  process.stdout.write(`${name}: ${format(value)} x\n`);
}

/** A note that is not a figure (configuration, N), prefixed so it never parses as one. */
export function note(text: string): void {
  process.stdout.write(`# ${text}\n`);
}

function format(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const abs = Math.abs(v);
  return abs >= 100 ? v.toFixed(0) : abs >= 10 ? v.toFixed(1) : abs >= 0.01 ? v.toFixed(2) : v.toPrecision(2);
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Runs `fn` for `ms` milliseconds after `warmupMs` of warm-up; returns iterations and elapsed seconds. */
export function timedLoop(fn: () => void, ms: number, warmupMs = 500): { n: number; seconds: number } {
  let end = performance.now() + warmupMs;
  while (performance.now() < end) fn();
  let n = 0;
  const start = performance.now();
  end = start + ms;
  while (performance.now() < end) {
    fn();
    n++;
  }
  return { n, seconds: (performance.now() - start) / 1000 };
}
