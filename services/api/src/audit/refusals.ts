import { addDeploymentAuditCounts, type DeploymentAuditCount, type DeploymentDb } from '@kap/store';
import { decodeJwt } from 'jose';
import type { Logger } from 'pino';
import { safeError } from '../ops/redaction';

/** What is known of a refused request: never the token itself. */
export interface RefusedToken {
  /** The raw token, read here for its claimed client only, and dropped. */
  readonly token?: string;
  readonly address?: string;
  readonly reason: string;
  readonly at: Date;
}

/** The record kind of a refused token in `deployment_audit`. */
export const TOKEN_REFUSED = 'token-refused';

/**
 * Distinct client/address/reason keys kept a minute; more are counted under one overflow key,
 * so a flood of made-up clients adds one row.
 */
export const MAX_KEYS_PER_MINUTE = 100;
const OVERFLOW_REASON = 'more distinct refusals this minute than are recorded one by one';

/**
 * The client a token says it is, read without verifying it (it was refused): `client_id`,
 * else `azp`, else `sub`. Only printable text, cut short: it came from whoever sent it.
 */
export function claimedClient(token: string | undefined): string {
  if (!token) return '';
  try {
    const claims = decodeJwt(token);
    const named = [claims.client_id, claims.azp, claims.sub].find((v): v is string => typeof v === 'string' && v.length > 0);
    return named ? named.replace(/[^\x20-\x7e]/g, '?').slice(0, 128) : '';
  } catch {
    return '';
  }
}

/**
 * Refused tokens (401), counted per minute by claimed client, address and reason and written
 * to the deployment's audit record every `flushMs`: a refused token is unverified, so no
 * tenant's trail can take it. Coalescing bounds what a flood of bad tokens can write: at most
 * MAX_KEYS_PER_MINUTE rows and one overflow row a minute, however many requests.
 */
export class RefusalLog {
  private readonly counts = new Map<string, DeploymentAuditCount>();
  private readonly keysPerWindow = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly options: { readonly db: DeploymentDb; readonly flushMs: number; readonly logger: Logger }) {}

  /** Counts one refusal; never throws, never waits. */
  record(refused: RefusedToken): void {
    const windowStart = new Date(Math.floor(refused.at.getTime() / 60_000) * 60_000).toISOString();
    const at = refused.at.toISOString();
    let clientId = claimedClient(refused.token);
    let address = (refused.address ?? '').slice(0, 64);
    let reason = refused.reason;
    let key = JSON.stringify([windowStart, clientId, address, reason]);
    if (!this.counts.has(key)) {
      const seen = this.keysPerWindow.get(windowStart) ?? 0;
      if (seen >= MAX_KEYS_PER_MINUTE) {
        clientId = '';
        address = '';
        reason = OVERFLOW_REASON;
        key = JSON.stringify([windowStart, clientId, address, reason]);
      } else {
        this.keysPerWindow.set(windowStart, seen + 1);
      }
    }
    const before = this.counts.get(key);
    this.counts.set(
      key,
      before
        ? { ...before, count: before.count + 1, lastAt: at > before.lastAt ? at : before.lastAt }
        : { windowStart, kind: TOKEN_REFUSED, clientId, address, reason, count: 1, firstAt: at, lastAt: at },
    );
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch(() => undefined);
    }, this.options.flushMs);
    // Counts never keep a process alive: close() is what stores them at shutdown.
    this.timer.unref();
  }

  /** Writes the counts so far; on failure they are added back, to be written with the next. */
  flush(): Promise<void> {
    const run = this.running.catch(() => undefined).then(() => this.writeAll());
    this.running = run;
    return run;
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush().catch((err: unknown) =>
      this.options.logger.error({ err: safeError(err) }, 'refused-token counts could not be stored before shutdown'),
    );
  }

  private async writeAll(): Promise<void> {
    if (this.counts.size === 0) return;
    const batch = [...this.counts.values()];
    this.counts.clear();
    // Only the current minute can still grow a key: older windows' key budgets are done.
    const current = new Date(Math.floor(Date.now() / 60_000) * 60_000).toISOString();
    for (const w of this.keysPerWindow.keys()) if (w < current) this.keysPerWindow.delete(w);
    try {
      await this.options.db.transaction((tx) => addDeploymentAuditCounts(tx, batch));
    } catch (err) {
      for (const c of batch) {
        const key = JSON.stringify([c.windowStart, c.clientId, c.address, c.reason]);
        const now = this.counts.get(key);
        this.counts.set(key, now ? { ...now, count: now.count + c.count, firstAt: c.firstAt } : c);
      }
      this.options.logger.warn({ err: safeError(err), keys: batch.length }, 'refused-token counts not stored; kept for the next flush');
      this.schedule();
      throw err;
    }
  }
}
