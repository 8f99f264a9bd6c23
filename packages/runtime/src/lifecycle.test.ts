import { Lifecycle, type LifecycleLogger } from './lifecycle';
import { runService, type ServiceHost } from './service';

const quiet = (): LifecycleLogger & { lines: string[] } => {
  const lines: string[] = [];
  return { lines, info: (_o, m) => void lines.push(m), warn: (_o, m) => void lines.push(m), error: (_o, m) => void lines.push(m) };
};

describe('Lifecycle', () => {
  it('closes the parts last started first', async () => {
    const closed: string[] = [];
    const life = new Lifecycle({ timeoutMs: 60_000, logger: quiet() });
    for (const name of ['sandbox', 'database', 'worker', 'api']) life.onStop(name, async () => void closed.push(name));
    await expect(life.stop('SIGTERM')).resolves.toBe('clean');
    expect(closed).toEqual(['api', 'worker', 'database', 'sandbox']);
  });

  it('shuts down once, however often it is asked', async () => {
    let closes = 0;
    let release!: () => void;
    const life = new Lifecycle({ timeoutMs: 60_000, logger: quiet() });
    life.onStop(
      'api',
      () =>
        new Promise<void>((r) => {
          closes += 1;
          release = r;
        }),
    );
    const first = life.stop('SIGTERM');
    const second = life.stop('SIGINT');
    release();
    expect(await first).toBe('clean');
    expect(await second).toBe('clean');
    expect(await life.stop('SIGTERM')).toBe('clean');
    expect(closes).toBe(1);
  });

  it('closes the other parts when one fails, once, and reports the failure', async () => {
    const closed: string[] = [];
    const logger = quiet();
    const life = new Lifecycle({ timeoutMs: 60_000, logger });
    life.onStop('database', () => void closed.push('database'));
    life.onStop('api', () => {
      closed.push('api');
      throw new Error('socket hang up');
    });
    expect(await life.stop('SIGTERM')).toBe('failed');
    expect(await life.stop('SIGTERM')).toBe('failed');
    expect(closed).toEqual(['api', 'database']);
    expect(logger.lines).toContain('a part failed to close');
  });

  it('gives up on a part that never closes once the timeout passes', async () => {
    jest.useFakeTimers();
    try {
      const life = new Lifecycle({ timeoutMs: 5_000, logger: quiet() });
      life.onStop('stuck', () => new Promise<void>(() => undefined));
      const result = life.stop('SIGTERM');
      await jest.advanceTimersByTimeAsync(5_000);
      await expect(result).resolves.toBe('timed-out');
    } finally {
      jest.useRealTimers();
    }
  });

  it('closes a part that finished starting after the shutdown began', async () => {
    const closed: string[] = [];
    const life = new Lifecycle({ timeoutMs: 60_000, logger: quiet() });
    await life.stop('SIGTERM');
    life.onStop('late listener', () => void closed.push('late listener'));
    await new Promise((r) => setImmediate(r));
    expect(closed).toEqual(['late listener']);
  });
});

/** A process stand-in: signals are raised by the test, exits are recorded. */
function host(env: Record<string, string> = {}, argv: string[] = []) {
  const handlers = new Map<string, () => void>();
  const record = { exits: [] as number[], errors: [] as string[], ready: [] as string[] };
  let exited!: (code: number) => void;
  const exit = new Promise<number>((r) => (exited = r));
  const h: ServiceHost = {
    env,
    argv,
    onSignal: (signal, handler) => void handlers.set(signal, handler),
    notifyReady: (m) => void record.ready.push(m.service),
    printError: (text) => void record.errors.push(text),
    exit: (code) => {
      record.exits.push(code);
      exited(code);
    },
  };
  return { h, record, exit, signal: (s: string) => handlers.get(s)?.() };
}

describe('runService', () => {
  it('stops on invalid settings before starting anything or saying it is ready', async () => {
    const t = host();
    const start = jest.fn(async () => undefined);
    await runService(
      {
        name: 'api',
        settings: () => {
          throw new Error('Invalid configuration:\n  AUTH_TOKEN_URL: required');
        },
        logger: quiet,
        start,
        shutdownTimeoutMs: 1_000,
      },
      t.h,
    );
    expect(start).not.toHaveBeenCalled();
    expect(t.record).toEqual({ exits: [1], errors: ['Invalid configuration:\n  AUTH_TOKEN_URL: required'], ready: [] });
  });

  it('with --check-config checks the settings and exits 0, starting nothing', async () => {
    const t = host({}, ['--check-config']);
    const start = jest.fn(async () => undefined);
    await runService({ name: 'api', settings: () => ({}), logger: quiet, start, shutdownTimeoutMs: 1_000 }, t.h);
    expect(start).not.toHaveBeenCalled();
    expect(t.record.exits).toEqual([0]);
  });

  it('says ready after the start, and on two signals shuts down once and exits 0', async () => {
    const t = host();
    let closes = 0;
    await runService(
      {
        name: 'worker',
        settings: () => ({}),
        logger: quiet,
        shutdownTimeoutMs: 60_000,
        start: async (_s, life) => life.onStop('worker', async () => void (closes += 1)),
      },
      t.h,
    );
    expect(t.record.ready).toEqual(['worker']);
    t.signal('SIGTERM');
    t.signal('SIGINT');
    expect(await t.exit).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(closes).toBe(1);
    expect(t.record.exits).toEqual([0]);
  });

  it('closes what did start when the start fails half-way, and exits 1 without saying ready', async () => {
    const t = host();
    const closed: string[] = [];
    await runService(
      {
        name: 'kap',
        settings: () => ({}),
        logger: quiet,
        shutdownTimeoutMs: 60_000,
        start: async (_s, life) => {
          life.onStop('database', () => void closed.push('database'));
          throw new Error('EADDRINUSE');
        },
      },
      t.h,
    );
    expect(closed).toEqual(['database']);
    expect(t.record.exits).toEqual([1]);
    expect(t.record.ready).toEqual([]);
  });

  it('exits 1 when a part fails to close', async () => {
    const t = host();
    await runService(
      {
        name: 'mllp',
        settings: () => ({}),
        logger: quiet,
        shutdownTimeoutMs: 60_000,
        start: async (_s, life) => life.onStop('listener', () => Promise.reject(new Error('boom'))),
      },
      t.h,
    );
    t.signal('SIGTERM');
    expect(await t.exit).toBe(1);
  });
});
