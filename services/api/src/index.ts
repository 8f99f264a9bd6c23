export { auditTrailOf, createApp } from './app';
export { startApi, type RunningApi } from './server';
export type { AppDeps, Probe } from './deps';
export { createApiServer } from './http/http-server';
export type { RateLimitRedis } from './http/rate-limits';
