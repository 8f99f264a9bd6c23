import type { Config } from '@kap/config';
import type { EhrClient } from '@kap/ehr-client';
import type { Db } from '@kap/store';
import type { Queues } from '@kap/queue';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** Everything processors need, passed in by main.ts (or a test with real services). */
export interface WorkerDeps {
  readonly config: Config;
  readonly db: Db;
  readonly ehr: EhrClient;
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
