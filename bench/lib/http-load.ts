import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { resolve } from 'node:path';
import autocannon from 'autocannon';

export interface SpawnedServer {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts bench/lib/server-main.ts (`api` or `bare`) in its own process and waits for its port. */
export async function spawnServer(mode: 'api' | 'bare' | 'dblimit', env: Record<string, string> = {}): Promise<SpawnedServer> {
  const child = fork(resolve(__dirname, 'server-main.ts'), [mode], {
    execArgv: [
      '-r',
      resolve(__dirname, '../register.js'),
      ...(mode === 'api' && process.env.BENCH_API_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_API_PROF_DIR] : []),
    ],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((ok, fail) => {
    child.once('message', (m: { port: number }) => ok(m.port));
    child.once('exit', (code) => fail(new Error(`${mode} server exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    stop: () =>
      new Promise<void>((ok) => {
        if (child.exitCode !== null) return ok();
        child.once('exit', () => ok());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly statuses: Record<string, number>;
}

export interface LoadOptions {
  readonly url: string;
  readonly path: string | (() => string);
  readonly body: () => unknown;
  readonly connections: number;
  /** Fixed duration in seconds, or a fixed number of requests. */
  readonly duration?: number;
  readonly amount?: number;
  /** A fixed overall rate (requests per second) instead of saturation. */
  readonly overallRate?: number;
}

/** One autocannon run over keep-alive connections; every request gets a fresh body (and path). */
export async function load(o: LoadOptions): Promise<LoadResult> {
  const statuses: Record<string, number> = {};
  const started = performance.now();
  const result = await autocannon({
    url: o.url,
    connections: o.connections,
    ...(o.amount ? { amount: o.amount } : { duration: o.duration ?? 5 }),
    ...(o.overallRate ? { overallRate: o.overallRate } : {}),
    requests: [
      {
        method: 'POST',
        setupRequest: (req: autocannon.Request) => ({
          ...req,
          path: typeof o.path === 'function' ? o.path() : o.path,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(o.body()),
        }),
      },
    ],
    setupClient: (client: { on(event: string, fn: (status: number) => void): void }) => {
      client.on('response', (status: number) => {
        statuses[status] = (statuses[status] ?? 0) + 1;
      });
    },
  } as unknown as autocannon.Options);
  const seconds = (performance.now() - started) / 1000;
  const requests = result.requests.total;
  return {
    requests,
    seconds,
    perSecond: requests / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    statuses,
  };
}

/**
 * A fixed arrival rate, open loop (as wrk2 does): request i is due at start + i / rate,
 * whatever earlier requests are doing, and its latency runs from when it was due, so a
 * server stall counts for every request it delays (no coordinated omission). autocannon's
 * `overallRate` is not this: each connection sends its share of a second back to back when
 * the second starts, then waits, so "100 req/s" arrives as a burst at each second boundary.
 */
export async function openLoop(o: {
  readonly url: string;
  readonly path: string | (() => string);
  readonly body: () => unknown;
  readonly rate: number;
  readonly seconds: number;
}): Promise<LoadResult & { readonly maxSendLagMs: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const target = new URL(o.url);
  const total = Math.max(1, Math.round(o.rate * o.seconds));
  const intervalMs = 1000 / o.rate;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let maxSendLagMs = 0;
  const send = (dueAt: number): Promise<void> =>
    new Promise((done) => {
      maxSendLagMs = Math.max(maxSendLagMs, performance.now() - dueAt);
      const body = JSON.stringify(o.body());
      const req = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          method: 'POST',
          path: typeof o.path === 'function' ? o.path() : o.path,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            statuses[status] = (statuses[status] ?? 0) + 1;
            if (status >= 200 && status < 300) latencies.push(performance.now() - dueAt);
            done();
          });
        },
      );
      req.on('error', () => {
        errors++;
        done();
      });
      req.end(body);
    });
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const dueAt = started + i * intervalMs;
    const wait = dueAt - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(send(dueAt));
  }
  await Promise.all(inFlight);
  agent.destroy();
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  const ok = latencies.length;
  return {
    requests: total,
    seconds,
    perSecond: total / seconds,
    p50: Math.round(at(0.5) * 10) / 10,
    p99: Math.round(at(0.99) * 10) / 10,
    non2xx: total - ok - errors,
    errors,
    statuses,
    maxSendLagMs: Math.round(maxSendLagMs * 10) / 10,
  };
}
