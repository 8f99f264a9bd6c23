import { checkEvictionPolicy, producerConnection, RedisEvictionPolicyError } from './connection';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('checkEvictionPolicy against a real Redis', () => {
  const redis = producerConnection(REDIS_URL, { lazyConnect: true });
  let original = 'noeviction';

  beforeAll(async () => {
    await redis.connect();
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    original = reply[1] ?? 'noeviction';
  });
  afterAll(async () => {
    try {
      await redis.config('SET', 'maxmemory-policy', original);
    } finally {
      redis.disconnect();
    }
  });

  it('accepts noeviction and refuses an evicting policy with the fix in the message', async () => {
    await redis.config('SET', 'maxmemory-policy', 'noeviction');
    await expect(checkEvictionPolicy(redis)).resolves.toBe('noeviction');
    await redis.config('SET', 'maxmemory-policy', 'allkeys-lru');
    await expect(checkEvictionPolicy(redis)).rejects.toThrow(RedisEvictionPolicyError);
    await expect(checkEvictionPolicy(redis)).rejects.toThrow(/CONFIG SET maxmemory-policy noeviction/);
  });
});
