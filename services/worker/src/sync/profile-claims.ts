import type { EhrClient } from '@kap/ehr-client';
import type { Resource } from '@medplum/fhirtypes';

/**
 * Profile claims (`meta.profile`) an EHR cannot take. A claim is a statement about the
 * resource, not part of its data, and some servers refuse valid resources over a claim
 * they validate wrongly: Medplum 5.0.10 refuses every Observation claiming the base
 * `bp` profile ("Incorrect number of values provided for slice 'SystolicBP'", a slice
 * matching fault). Blood pressure is the in-session safety vital, so such a resource is
 * sent without the claim rather than not at all: its data is never changed, and its sync
 * state says which claim was left out and why.
 *
 * Claims are left out when hospital IT lists them (`EHR_UNCLAIMED_PROFILES`), or after
 * the EHR refused a resource with its claims and took it without them: then they are
 * remembered for this EHR connection, so later resources do not fail first.
 */
export interface ProfileClaims {
  /** The resource as it goes to the EHR, and the note for its sync state when a claim was left out. */
  outgoing(resource: Resource): { readonly resource: Resource; readonly note?: string };
  /** The claims a refused resource carries that could be left out to try again; empty when none. */
  droppable(resource: Resource): string[];
  /** The EHR took the resource without these claims after refusing it with them. */
  learn(profiles: readonly string[], refusal: string): void;
  /** Claims learned from refusals, for `ehr:check` to recommend as a setting. */
  learned(): readonly string[];
}

const learnedByEhr = new WeakMap<EhrClient, Map<string, string>>();

/** The claims memory of this EHR connection; with no connection, a memory of its own (a preflight's). */
export function profileClaims(ehr: EhrClient | undefined, configured: readonly string[]): ProfileClaims {
  let learned = ehr ? learnedByEhr.get(ehr) : undefined;
  if (!learned) {
    learned = new Map();
    if (ehr) learnedByEhr.set(ehr, learned);
  }
  const refusedBefore = learned;
  const unclaimed = (url: string): string | undefined =>
    configured.includes(url)
      ? 'listed in EHR_UNCLAIMED_PROFILES'
      : refusedBefore.has(url)
        ? `the EHR refused it before: ${refusedBefore.get(url)}`
        : undefined;
  return {
    outgoing(resource) {
      const claims = resource.meta?.profile ?? [];
      const dropped = claims.filter((url) => unclaimed(url) !== undefined);
      if (dropped.length === 0) return { resource };
      const reasons = [...new Set(dropped.map((url) => unclaimed(url) as string))].join('; ');
      return { resource: withoutClaims(resource, dropped), note: droppedNote(dropped, reasons) };
    },
    droppable: (resource) => [...(resource.meta?.profile ?? [])],
    learn(profiles, refusal) {
      for (const url of profiles) refusedBefore.set(url, refusal.slice(0, 300));
    },
    learned: () => [...refusedBefore.keys()],
  };
}

export function withoutClaims(resource: Resource, profiles: readonly string[]): Resource {
  const kept = (resource.meta?.profile ?? []).filter((url) => !profiles.includes(url));
  const { profile: _profile, ...meta } = resource.meta ?? {};
  const nextMeta = kept.length > 0 ? { ...meta, profile: kept } : meta;
  const { meta: _meta, ...rest } = resource;
  return (Object.keys(nextMeta).length > 0 ? { ...rest, meta: nextMeta } : rest) as Resource;
}

export function droppedNote(profiles: readonly string[], why: string): string {
  return `sent without its profile claim${profiles.length > 1 ? 's' : ''} ${profiles.join(', ')} (data unchanged): ${why}`.slice(0, 1000);
}
