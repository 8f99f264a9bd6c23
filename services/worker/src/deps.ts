import type { Config, Tenants } from '@kap/config';
import type { EhrClient } from '@kap/ehr-client';
import type { DeploymentDb } from '@kap/store';
import type { Queues } from '@kap/queue';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** Everything processors need, passed in by main.ts (or a test with real services). */
export interface WorkerDeps {
  readonly config: Config;
  /** The unscoped database: the outbox relay and sweeps; a job's own work goes through its tenant's handle (`tenantWork`). */
  readonly db: DeploymentDb;
  /** The tenants served; without it, the single default tenant on `config`. */
  readonly tenants?: Tenants;
  /**
   * The EHR of a deployment without `tenants` (tests inject one). With `tenants`, each
   * tenant's client is made from its own configuration on first use and kept.
   */
  readonly ehr?: EhrClient;
  /** fetch for the EHR clients made per tenant (tests record or alter what they send). */
  readonly ehrFetch?: typeof fetch;
  readonly queues: Queues;
  /** The deployment's own key prefix in Redis (`queuePrefix`). */
  readonly queuePrefix: string;
  /** The connection the queues use, for the ownership record; absent in tests that do not need it. */
  readonly redis?: Redis;
  readonly logger: Logger;
  /** Names this process in leases. */
  readonly workerId: string;
  readonly now?: () => Date;
  /** fetch for webhook deliveries (injected so tests can use a real server on loopback). */
  readonly fetch?: typeof fetch;
}
