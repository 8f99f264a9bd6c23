import type { Config } from '@kap/config';
import { OutcomeError, operationOutcome } from '@kap/fhir';
import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit, type Options, type Store } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RedisStore } from 'rate-limit-redis';
import { callerOf } from './caller';
import { PUBLIC_PATHS } from './jwt-auth';

const WINDOW_MS = 60_000;

/** Where the counters live: Redis, shared by every API replica, under a prefix of this deployment's own. */
export interface RateLimitRedis {
  readonly redis: Redis;
  /** Key prefix, e.g. the queue prefix plus `:rate`, so installs sharing one Redis keep their own counts. */
  readonly prefix: string;
}

/**
 * rate-limit-redis loads its Lua script once, at start; a load that failed while Redis was
 * away would fail every later count. This store loads it again after a failure, so limits
 * come back with Redis instead of staying off until a restart.
 */
class RecoveringRedisStore extends RedisStore {
  override async increment(key: string): ReturnType<RedisStore['increment']> {
    try {
      return await super.increment(key);
    } catch (error) {
      this.incrementScriptSha = this.loadIncrementScript();
      this.incrementScriptSha.catch(() => undefined);
      throw error;
    }
  }
}

function storeOf(shared: RateLimitRedis | undefined, name: string): Store | undefined {
  if (!shared) return undefined;
  return new RecoveringRedisStore({
    prefix: `${shared.prefix}:${name}:`,
    sendCommand: (command: string, ...args: string[]) => shared.redis.call(command, ...args) as never,
  });
}

/** 429 as every other error: an OperationOutcome, with Retry-After in seconds. */
const throttled =
  (who: string): Options['handler'] =>
  (req, _res, next) => {
    const reset = (req as { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
    const seconds = Math.max(1, Math.ceil(((reset?.getTime() ?? Date.now() + WINDOW_MS) - Date.now()) / 1000));
    next(
      new OutcomeError(
        429,
        operationOutcome([{ code: 'throttled', diagnostics: `Too many requests from this ${who}; try again in ${seconds} s` }]),
        {
          'Retry-After': String(seconds),
        },
      ),
    );
  };

function common(logger: Logger): Partial<Options> {
  return {
    windowMs: WINDOW_MS,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    // Redis down: requests pass unlimited (and commands answer 503 on their own); the clinic keeps reading its data.
    passOnStoreError: true,
    logger: {
      warn: (e: unknown, msg?: string) => logger.warn({ err: e }, msg ?? 'rate limiter'),
      error: (e: unknown, msg?: string) => logger.warn({ err: e }, msg ?? 'rate limiter'),
    } as never,
  };
}

/**
 * Before authentication, per IP address: only refused requests (401) count, so a flood of
 * bad or stolen-and-expired tokens is stopped while a proxy full of good clients is not.
 * Past the limit, every request from that address is 429 until the minute is over.
 */
export function unauthenticatedLimit(config: Config, logger: Logger, shared?: RateLimitRedis): RequestHandler {
  const store = storeOf(shared, 'ip');
  return rateLimit({
    ...common(logger),
    ...(store ? { store } : {}),
    limit: config.RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE,
    // Probes and discovery stay reachable whatever a neighbour on the same address does.
    skip: (req) => PUBLIC_PATHS.some((p) => p.test(req.path)),
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => res.statusCode !== 401,
    keyGenerator: (req) => ipKeyGenerator(req.ip ?? 'unknown'),
    handler: throttled('address'),
  });
}

/** After authentication, per tenant and client: every request counts. */
export function clientLimit(config: Config, logger: Logger, shared?: RateLimitRedis): RequestHandler {
  const store = storeOf(shared, 'client');
  return rateLimit({
    ...common(logger),
    ...(store ? { store } : {}),
    limit: config.RATE_LIMIT_PER_MINUTE,
    keyGenerator: (_req, res) => {
      const caller = callerOf(res);
      return `${caller.tenantId}:${caller.clientId}`;
    },
    handler: throttled('client'),
  });
}
