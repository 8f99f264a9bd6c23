/** What the lifecycle logs with: pino's logger fits, and so does anything with these three methods. */
export interface LifecycleLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** How a shutdown ended: `clean` when every part closed, else the exit code is 1. */
export type StopResult = 'clean' | 'failed' | 'timed-out';

interface Part {
  readonly name: string;
  readonly close: () => Promise<void> | void;
}

export interface LifecycleOptions {
  /** How long every part together may take to close before the process gives up on them. */
  readonly timeoutMs: number;
  readonly logger: LifecycleLogger;
}

/**
 * The parts a process started, closed once in reverse order of start: a listener stops
 * taking work before the database it writes to closes. A part registers as soon as it has
 * started, so a start that fails half-way closes exactly what did start.
 */
export class Lifecycle {
  private readonly parts: Part[] = [];
  private stopped: Promise<StopResult> | undefined;
  private draining = false;

  constructor(private readonly options: LifecycleOptions) {}

  /** Whether a shutdown has begun: a start still under way then says no "ready". */
  get stopping(): boolean {
    return this.stopped !== undefined;
  }

  /** Registers a started part; a part that starts after the shutdown began is closed at once. */
  onStop(name: string, close: () => Promise<void> | void): void {
    this.parts.push({ name, close });
    if (this.stopped && !this.draining) void this.closeAll();
  }

  /**
   * Closes every part, last started first; the second and later calls (a second signal, an
   * error while stopping) get the first call's result and close nothing again. A part that
   * fails to close is logged and the rest still close; past the timeout the result is
   * `timed-out` whatever is still closing.
   */
  stop(reason: string): Promise<StopResult> {
    if (this.stopped) {
      this.options.logger.warn({ reason }, 'already shutting down');
      return this.stopped;
    }
    this.options.logger.info({ reason }, 'shutting down: work in flight finishes first');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<StopResult>((resolve) => {
      timer = setTimeout(() => {
        this.options.logger.error({ timeoutMs: this.options.timeoutMs, open: this.parts.map((p) => p.name) }, 'shutdown timed out');
        resolve('timed-out');
      }, this.options.timeoutMs);
      timer.unref();
    });
    this.stopped = Promise.race([this.closeAll(), timedOut]).finally(() => clearTimeout(timer));
    return this.stopped;
  }

  private async closeAll(): Promise<StopResult> {
    this.draining = true;
    let result: StopResult = 'clean';
    for (let part = this.parts.pop(); part; part = this.parts.pop()) {
      try {
        await part.close();
      } catch (err) {
        result = 'failed';
        this.options.logger.error({ part: part.name, err }, 'a part failed to close');
      }
    }
    this.draining = false;
    return result;
  }
}
