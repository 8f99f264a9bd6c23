import { Lifecycle, type LifecycleLogger, type StopResult } from './lifecycle';

/** The flag that makes a service check its configuration and exit, starting nothing: `npm start` runs it first. */
export const CHECK_CONFIG_FLAG = '--check-config';

/** The process as a service sees it; tests pass their own. */
export interface ServiceHost {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly argv: readonly string[];
  onSignal(signal: NodeJS.Signals, handler: () => void): void;
  /** Tells a parent that started this process with an IPC channel (`npm start`) that it is ready. */
  notifyReady(message: { readonly type: 'ready'; readonly service: string }): void;
  printError(text: string): void;
  exit(code: number): void;
}

export interface ServiceSpec<S, L extends LifecycleLogger = LifecycleLogger> {
  readonly name: string;
  /**
   * Reads and checks the whole configuration (environment, tenants file, what this service
   * refuses to run with) and throws with every problem named. Nothing has started yet, so
   * a bad setting stops the process before it listens or says it is ready.
   */
  readonly settings: (env: Readonly<Record<string, string | undefined>>) => S;
  readonly logger: (settings: S) => L;
  /** Starts the service's parts, registering each one's close with `lifecycle.onStop` as soon as it runs. */
  readonly start: (settings: S, lifecycle: Lifecycle, logger: L) => Promise<void>;
  /** How long the shutdown may take: the longest job or request in flight, plus closing connections. */
  readonly shutdownTimeoutMs: number;
}

export function nodeProcessHost(): ServiceHost {
  return {
    env: process.env,
    argv: process.argv.slice(2),
    onSignal: (signal, handler) => void process.on(signal, handler),
    notifyReady: (message) => {
      if (process.connected && process.send) process.send(message);
    },
    printError: (text) => void process.stderr.write(`${text}\n`),
    exit: (code) => process.exit(code),
  };
}

/**
 * Runs one service process: settings, then start, then "ready"; SIGTERM or SIGINT (or a
 * failed start) shut it down once, and the process exits 0 only after a clean shutdown.
 * Returns once the service is ready or the process is on its way out.
 */
export async function runService<S, L extends LifecycleLogger>(
  spec: ServiceSpec<S, L>,
  host: ServiceHost = nodeProcessHost(),
): Promise<void> {
  let settings: S;
  try {
    settings = spec.settings(host.env);
  } catch (err) {
    host.printError(err instanceof Error ? err.message : String(err));
    host.exit(1);
    return;
  }
  if (host.argv.includes(CHECK_CONFIG_FLAG)) {
    host.exit(0);
    return;
  }
  const logger = spec.logger(settings);
  const lifecycle = new Lifecycle({ timeoutMs: spec.shutdownTimeoutMs, logger });
  const stopAndExit = async (reason: string, code: number): Promise<void> => {
    const result: StopResult = await lifecycle.stop(reason);
    host.exit(result === 'clean' ? code : 1);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    // A second signal (Ctrl-C sends SIGINT to `npm start` and the service alike) only logs.
    host.onSignal(signal, () => void (lifecycle.stopping ? lifecycle.stop(signal) : stopAndExit(signal, 0)));
  }
  try {
    await spec.start(settings, lifecycle, logger);
  } catch (err) {
    logger.error({ err }, `${spec.name} failed to start`);
    await stopAndExit('start failed', 1);
    return;
  }
  if (lifecycle.stopping) return;
  logger.info({ service: spec.name }, `${spec.name} ready`);
  host.notifyReady({ type: 'ready', service: spec.name });
}
