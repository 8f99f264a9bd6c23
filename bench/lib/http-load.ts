import { fork, type ChildProcess } from 'node:child_process';
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
