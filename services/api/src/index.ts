export { auditTrailOf, createApp } from './app';
export { startApi, type RunningApi } from './server';
export type { AppDeps, Probe } from './deps';
