import { Redis, type RedisOptions } from 'ioredis';

/**
 * Connections per BullMQ's production guide
 * (https://docs.bullmq.io/guide/going-to-production): workers block on Redis and must
 * retry forever (`maxRetriesPerRequest: null`); producers in the API fail fast instead,
 * so a request answers 503 at once when Redis is down rather than hanging.
 */
export function workerConnection(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, ...options });
}

export function producerConnection(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    ...options,
  });
}

export class RedisEvictionPolicyError extends Error {
  override name = 'RedisEvictionPolicyError';
}

/**
 * BullMQ needs `maxmemory-policy noeviction`: any other policy lets Redis silently drop
 * job keys under memory pressure. Throws with the fix when the policy is wrong; a server
 * that refuses CONFIG (some managed services) is reported as unknown and allowed.
 */
export async function checkEvictionPolicy(redis: Redis): Promise<string> {
  let policy: string;
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    policy = reply[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
  if (policy !== 'noeviction') {
    throw new RedisEvictionPolicyError(
      `Redis maxmemory-policy is "${policy}"; BullMQ needs "noeviction" or queued work can be evicted. ` +
        'Set it with: CONFIG SET maxmemory-policy noeviction (and in redis.conf).',
    );
  }
  return policy;
}
