import type { Config, Tenants } from '@kap/config';
import type { ScreeningRuleTable } from '@kap/domain';
import type { Queues } from '@kap/queue';
import type { DeploymentDb } from '@kap/store';
import type { Logger } from 'pino';
import type { AuditTrail } from './audit/trail';
import type { RateLimitRedis } from './http/rate-limits';

/** A named dependency the readiness check probes; `check` rejects when it is down. */
export interface Probe {
  readonly name: string;
  /** A critical dependency down makes the service not ready; a non-critical one is reported only. */
  readonly critical: boolean;
  check(): Promise<void>;
}

/**
 * Everything the HTTP app needs, passed in by `main.ts` (or a test) so the app opens no
 * connection of its own and tests run it against real services.
 */
export interface AppDeps {
  readonly config: Config;
  readonly db: DeploymentDb;
  /** The screening rules of a deployment without `tenants`; with them, each tenant's come from its configuration. */
  readonly rules: ScreeningRuleTable;
  /** The tenants served (TENANTS_FILE); without it, the single default tenant on `config`. */
  readonly tenants?: Tenants;
  readonly logger: Logger;
  /** Extra readiness probes (Redis, the EHR); the database is always probed. */
  readonly probes?: readonly Probe[];
  /**
   * Rejects when the job queue (Redis) is down. Commands check it first and answer 503 at
   * once, accepting nothing, rather than storing work the queues cannot take up.
   */
  readonly queueCheck?: () => Promise<void>;
  /** The queues, for the operators' dashboard and the queue-depth metrics. */
  readonly queues?: Queues;
  /**
   * Where the AuditEvents of reads and failed requests are queued; whoever passes it flushes
   * it on shutdown (`startApi` does). Without one, the app makes its own (`auditTrailOf`).
   */
  readonly audit?: AuditTrail;
  /**
   * Redis for the rate-limit counters, so API replicas share one budget per client; without
   * it (tests without Redis) each process counts alone, in memory.
   */
  readonly rateLimits?: RateLimitRedis;
  /** Injected clock, so tests can pin times. */
  readonly now?: () => Date;
}
