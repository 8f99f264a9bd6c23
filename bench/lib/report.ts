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

/** How many times a case runs for its spread: BENCH_RUNS, at least 5 (fewer only when asked for a smoke run). */
export const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 5));

export interface Goal {
  /** `min`: the figure must be at least `value`; `max`: at most. */
  readonly kind: 'min' | 'max';
  readonly value: number;
}

/**
 * A figure measured once per run: prints `name: median unit` (so scripts reading one value
 * per figure keep working), then `name.min`, `name.median`, `name.max` and the runs, and,
 * with a goal, whether its WORST run meets it. A goal is met only when every run meets it.
 */
export function spread(name: string, values: readonly number[], unit: string, goal?: Goal): void {
  const sorted = [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) {
    note(`${name}: no run produced a value`);
    return;
  }
  const median =
    sorted.length % 2 === 1
      ? (sorted[(sorted.length - 1) / 2] as number)
      : ((sorted[sorted.length / 2 - 1] as number) + (sorted[sorted.length / 2] as number)) / 2;
  const min = sorted[0] as number;
  const max = sorted[sorted.length - 1] as number;
  const line = (suffix: string, v: number): void => void process.stdout.write(`${name}${suffix}: ${format(v)} ${unit}\n`);
  line('', median);
  line('.min', min);
  line('.median', median);
  line('.max', max);
  note(`${name}: ${sorted.length} runs, in run order ${values.map(format).join(', ')}`);
  if (!goal) return;
  const worst = goal.kind === 'min' ? min : max;
  const met = goal.kind === 'min' ? worst >= goal.value : worst <= goal.value;
  const sign = goal.kind === 'min' ? '≥' : '≤';
  // Three significant digits, so a worst run just under its goal never prints as equal to it.
  const exact = (v: number): string => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3))));
  process.stdout.write(
    `${name}: ${met ? `goal met (worst ${exact(worst)}, goal ${sign} ${exact(goal.value)})` : `goal NOT met (worst ${exact(worst)} vs goal ${exact(goal.value)})`}\n`,
  );
  if (values.length < 5) note(`${name}: only ${values.length} runs (BENCH_RUNS); a goal needs at least 5 to hold`);
}
