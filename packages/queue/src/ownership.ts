import { forgetDispatches, getDeploymentId, maxOutboxId, type DeploymentDb } from '@kap/store';
import type { Redis } from 'ioredis';

/**
 * The Redis key prefix a deployment owns: the configured base and the database's deployment
 * id. A fresh install (a new database) gets keys of its own even on a Redis that served
 * earlier installs under the same base, so it never reads their jobs as its own.
 */
export function queuePrefix(base: string, deploymentId: string): string {
  return `${base}-${deploymentId.replace(/-/g, '')}`;
}

/** What the database says it is, held against what Redis remembers. */
export interface DatabaseFingerprint {
  readonly deploymentId: string;
  /** The newest outbox row id: a database restored from an older backup has fewer rows than Redis has seen. */
  readonly outboxHighWater: number;
}

/**
 * - `claimed`: Redis had no record under this prefix; it now names this database.
 * - `ours`: Redis names this database, and has seen no row it lacks.
 * - `foreign`: another deployment's record; its job states say nothing of our rows.
 * - `rewound`: our deployment, but Redis has dispatched rows newer than any here: the
 *   database was restored from an older backup, and jobs in Redis belong to a lost future.
 */
export type Ownership = { readonly status: 'claimed' | 'ours' } | { readonly status: 'foreign' | 'rewound'; readonly detail: string };

const ownerKey = (prefix: string): string => `${prefix}:owner`;

/** Compares Redis's record with the database, changing nothing. */
export async function checkOwnership(redis: Redis, prefix: string, db: DatabaseFingerprint): Promise<Ownership> {
  const [deployment, highWater] = await redis.hmget(ownerKey(prefix), 'deployment', 'highWater');
  if (!deployment) return { status: 'claimed' };
  if (deployment !== db.deploymentId) {
    return {
      status: 'foreign',
      detail: `Redis keys under "${prefix}" belong to deployment ${deployment}, not this database's ${db.deploymentId}`,
    };
  }
  if (Number(highWater ?? 0) > db.outboxHighWater) {
    return {
      status: 'rewound',
      detail: `Redis under "${prefix}" has seen outbox row ${highWater}, but this database's newest is ${db.outboxHighWater}: it was restored from an older backup`,
    };
  }
  return { status: 'ours' };
}

/** Makes Redis's record name this database as it is now (after its dispatches were made anew). */
export async function claimOwnership(redis: Redis, prefix: string, db: DatabaseFingerprint): Promise<void> {
  await redis.hset(ownerKey(prefix), { deployment: db.deploymentId, highWater: String(db.outboxHighWater) });
}

/** Raises the newest dispatched row id Redis remembers (never lowers it: workers race). */
export async function recordHighWater(redis: Redis, prefix: string, outboxId: number): Promise<void> {
  await redis.eval(
    "local c = tonumber(redis.call('HGET', KEYS[1], 'highWater') or '0') if tonumber(ARGV[1]) > c then redis.call('HSET', KEYS[1], 'highWater', ARGV[1]) end return 1",
    1,
    ownerKey(prefix),
    String(outboxId),
  );
}

/** Where adoption says what it found (a pino logger will do). */
export interface OwnershipLogger {
  error(details: object, message: string): void;
  warn(details: object, message: string): void;
}

/** The deployment's prefix, from the database it stores its work in. */
export async function resolveQueuePrefix(db: DeploymentDb, base: string): Promise<string> {
  return queuePrefix(base, await getDeploymentId(db));
}

/** What the database says of itself now. */
export async function databaseFingerprint(db: DeploymentDb): Promise<DatabaseFingerprint> {
  return { deploymentId: await getDeploymentId(db), outboxHighWater: await maxOutboxId(db) };
}

/**
 * At a worker's start: holds Redis's record against the database. When Redis's job states
 * cannot be ours (another deployment's, or a database restored from an older backup), every
 * open row is dispatched anew under new job ids, none of the old states being trusted, and
 * Redis's record then names this database. Returns what it found.
 */
export async function adoptRedis(db: DeploymentDb, redis: Redis, prefix: string, logger: OwnershipLogger): Promise<Ownership> {
  const verdict = await checkOwnership(redis, prefix, await databaseFingerprint(db));
  if (verdict.status === 'foreign' || verdict.status === 'rewound') {
    logger.error({ prefix, detail: verdict.detail }, "Redis job states are not this database's: every open outbox row is dispatched again");
    const forgotten = await forgetDispatches(db);
    logger.warn({ rows: forgotten }, 'open outbox rows to dispatch again');
  }
  if (verdict.status !== 'ours') await claimOwnership(redis, prefix, await databaseFingerprint(db));
  return verdict;
}
