export { createApp } from './app';
export type { AppDeps, Probe } from './deps';
