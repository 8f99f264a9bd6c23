import { readCapabilities, type EhrCapabilities } from './capabilities';
import type { EhrClient } from './client';

/**
 * The EHR's capabilities, read once and then again when older than `refreshMs` or on
 * demand (after a refusal that suggests the EHR changed), never before every job.
 * Concurrent callers share one in-flight read. Cached per client object, so every job of
 * one worker process sees the same copy.
 */
export interface CapabilityCache {
  get(): Promise<EhrCapabilities>;
  /** Forgets the copy: the next `get` reads `metadata` again. */
  invalidate(): void;
}

const caches = new WeakMap<EhrClient, CapabilityCache>();

export function capabilityCache(ehr: EhrClient, refreshMs: number, now: () => number = Date.now): CapabilityCache {
  const existing = caches.get(ehr);
  if (existing) return existing;
  let value: { caps: EhrCapabilities; at: number } | undefined;
  let inflight: Promise<EhrCapabilities> | undefined;
  const cache: CapabilityCache = {
    get() {
      if (value && now() - value.at < refreshMs) return Promise.resolve(value.caps);
      inflight ??= ehr
        .capabilities()
        .then((statement) => {
          const caps = readCapabilities(statement);
          value = { caps, at: now() };
          return caps;
        })
        .finally(() => {
          inflight = undefined;
        });
      return inflight;
    },
    invalidate() {
      value = undefined;
    },
  };
  caches.set(ehr, cache);
  return cache;
}
