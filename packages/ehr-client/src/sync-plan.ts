import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import stringify from 'safe-stable-stringify';
import { identifierToken } from './identifiers';

/**
 * Plans the transaction that brings an EHR up to date with local resources, pure and
 * deterministic (http://hl7.org/fhir/R4/http.html#transaction):
 * - a resource the EHR lacks is a conditional create (`If-None-Exist` on its identity), so
 *   a retry after a lost response never duplicates it;
 * - a resource the EHR has, with other content, is an update of the EHR's id under
 *   `If-Match` of the version read, so a concurrent change there is a 412, not overwritten;
 * - a resource the EHR has with the same content is left out, so a second run of the same
 *   sync changes nothing.
 * References between local resources are rewritten: to `urn:uuid:` of entries created in
 * this transaction (the server resolves them), or to the EHR's own ids.
 */

/** How a resource is found on the EHR: by an identifier, or (Provenance) by a meta tag. */
export type SyncIdentity =
  | { readonly by: 'identifier'; readonly system: string; readonly value: string }
  | { readonly by: 'tag'; readonly system: string; readonly code: string };

/** What the EHR holds for an identity, from a search before planning. */
export interface EhrCopy {
  readonly resource: Resource;
  /** Opaque: sent back verbatim in If-Match. */
  readonly etag?: string;
}

export interface LocalResource {
  readonly resource: Resource;
  /** The local version being synced. */
  readonly version: number;
  /** The EHR must never be updated from here (the hospital owns the Patient's demographics). */
  readonly createOnly?: boolean;
}

/** Where an earlier sync put a local resource: its EHR id and the version it wrote there. */
export interface KnownEhrCopy {
  readonly reference: string;
  readonly version: string | null;
}

export interface SyncPlanInput {
  readonly resources: readonly LocalResource[];
  readonly identityOf: (resource: Resource) => SyncIdentity;
  /**
   * EHR copies found by identity, keyed by `identityKey`, when the EHR was searched first.
   * Empty on the fast path: then what was synced before is updated under If-Match of the
   * version written then, and the rest is created conditionally.
   */
  readonly existing: ReadonlyMap<string, EhrCopy>;
  /** `Type/localId` → where earlier syncs put it. */
  readonly knownEhrCopies: ReadonlyMap<string, KnownEhrCopy>;
}

export type PlannedAction = 'create' | 'update' | 'unchanged';

export interface PlannedResource {
  readonly localReference: string;
  readonly version: number;
  readonly action: PlannedAction;
  /** Index of its entry in the transaction; absent when unchanged. */
  readonly entryIndex?: number;
  /** Known before sending for update and unchanged; from the response for create. */
  readonly ehrReference?: string;
  readonly ehrVersion?: string;
}

export interface SyncPlan {
  /** Absent when the EHR already matches. */
  readonly bundle?: Bundle;
  readonly resources: readonly PlannedResource[];
}

export const identityKey = (type: string, identity: SyncIdentity): string =>
  identity.by === 'identifier'
    ? `${type}|identifier|${identityToken(identity)}`
    : `${type}|tag|${identity.system}|${identity.code}`;

const identityToken = (identity: SyncIdentity): string =>
  identity.by === 'identifier'
    ? identifierToken({ system: identity.system, value: identity.value })
    : `${identity.system}|${identity.code}`;

/** The search that finds an identity, as `If-None-Exist` takes it. */
export function identityQuery(identity: SyncIdentity): string {
  return identity.by === 'identifier'
    ? new URLSearchParams({ identifier: identityToken(identity) }).toString()
    : new URLSearchParams({ _tag: identityToken(identity) }).toString();
}

const refOf = (r: Resource): string => `${r.resourceType}/${r.id ?? ''}`;

/** The version an EHR copy carries: its ETag's value, else meta.versionId. */
export function versionOfCopy(copy: EhrCopy): string | undefined {
  const fromEtag = copy.etag?.match(/^(?:W\/)?"(.*)"$/)?.[1];
  return fromEtag ?? copy.resource.meta?.versionId;
}

export function planSync(input: SyncPlanInput): SyncPlan {
  const local = new Set(input.resources.map((r) => refOf(r.resource)));
  const decided = input.resources.map((item) => {
    const identity = input.identityOf(item.resource);
    const copy = input.existing.get(identityKey(item.resource.resourceType, identity));
    return { item, identity, copy };
  });

  // Where each local reference points in the EHR once this transaction commits.
  const target = new Map<string, string>([...input.knownEhrCopies].map(([local, known]) => [local, known.reference]));
  for (const { item, copy } of decided) {
    const ref = refOf(item.resource);
    const known = input.knownEhrCopies.get(ref);
    target.set(
      ref,
      copy?.resource.id ? `${item.resource.resourceType}/${copy.resource.id}` : (known?.reference ?? `urn:uuid:${item.resource.id}`),
    );
  }
  const rewrite = (resource: Resource): Resource => rewriteReferences(resource, (reference) => {
    const mapped = target.get(reference);
    if (mapped) return mapped;
    const [type, id] = reference.split('/');
    if (type && id && !reference.includes(':') && /^[A-Z]/.test(type) && !local.has(reference)) {
      throw new Error(`${reference} is referenced but neither synced nor part of this sync`);
    }
    return reference;
  });

  const entries: BundleEntry[] = [];
  const planned: PlannedResource[] = decided.map(({ item, identity, copy }) => {
    const localReference = refOf(item.resource);
    const outgoing = rewrite(stripServerFields(item.resource));
    const known = input.knownEhrCopies.get(localReference);
    if (!copy && known) {
      // Synced before and not searched for: the EHR holds the version we wrote, unless someone
      // changed it since, which If-Match turns into a 412 and a re-plan from a fresh read.
      if (item.createOnly) return { localReference, version: item.version, action: 'unchanged', ehrReference: known.reference, ehrVersion: known.version ?? undefined };
      entries.push({
        fullUrl: `urn:uuid:${item.resource.id}`,
        resource: { ...outgoing, id: known.reference.split('/')[1] },
        request: { method: 'PUT', url: known.reference, ...(known.version ? { ifMatch: `W/"${known.version}"` } : {}) },
      });
      return { localReference, version: item.version, action: 'update', entryIndex: entries.length - 1, ehrReference: known.reference };
    }
    if (!copy) {
      entries.push({
        fullUrl: `urn:uuid:${item.resource.id}`,
        resource: outgoing,
        request: { method: 'POST', url: item.resource.resourceType, ifNoneExist: identityQuery(identity) },
      });
      return { localReference, version: item.version, action: 'create', entryIndex: entries.length - 1 };
    }
    const ehrReference = `${item.resource.resourceType}/${copy.resource.id}`;
    const ehrVersion = versionOfCopy(copy);
    if (item.createOnly || sameContent(outgoing, copy.resource)) {
      return { localReference, version: item.version, action: 'unchanged', ehrReference, ehrVersion };
    }
    entries.push({
      fullUrl: `urn:uuid:${item.resource.id}`,
      resource: { ...outgoing, id: copy.resource.id },
      request: { method: 'PUT', url: ehrReference, ...(copy.etag || ehrVersion ? { ifMatch: copy.etag ?? `W/"${ehrVersion}"` } : {}) },
    });
    return { localReference, version: item.version, action: 'update', entryIndex: entries.length - 1, ehrReference };
  });

  return {
    resources: planned,
    ...(entries.length > 0 ? { bundle: { resourceType: 'Bundle', type: 'transaction', entry: entries } } : {}),
  };
}

/** Server-managed fields never travel: the EHR assigns its own id, version and timestamps. */
function stripServerFields(resource: Resource): Resource {
  const { id: _id, meta, ...rest } = resource;
  const keptMeta = meta ? { ...(meta.profile ? { profile: meta.profile } : {}), ...(meta.tag ? { tag: meta.tag } : {}) } : undefined;
  return { ...rest, ...(keptMeta && Object.keys(keptMeta).length > 0 ? { meta: keptMeta } : {}) } as Resource;
}

/** Equal for sync purposes: everything but id, meta and narrative, whatever the key order. */
export function sameContent(a: Resource, b: Resource): boolean {
  const strip = (r: Resource): unknown => {
    const { id: _id, meta: _meta, text: _text, ...rest } = r as Resource & { text?: unknown };
    return rest;
  };
  return stringify(strip(a)) === stringify(strip(b));
}

/** A deep copy with every `reference` string passed through `map`. */
export function rewriteReferences<T extends Resource>(resource: T, map: (reference: string) => string): T {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(value)) {
        out[key] = key === 'reference' && typeof v === 'string' ? map(v) : walk(v);
      }
      return out;
    }
    return value;
  };
  return walk(resource) as T;
}

/** `Type/id` and the version from a transaction-response `location` (relative or absolute). */
export function parseLocation(location: string): { reference: string; version?: string } | undefined {
  const match = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/([^/?#]+))?\/?(?:[?#].*)?$/.exec(location);
  if (!match) return undefined;
  return { reference: `${match[1]}/${match[2]}`, ...(match[3] ? { version: match[3] } : {}) };
}

export interface SyncedResource {
  readonly localReference: string;
  readonly version: number;
  readonly ehrReference: string;
  readonly ehrVersion: string | null;
}

/** Joins the plan with the transaction-response into what the EHR now holds for each resource. */
export function syncedFromResponse(plan: SyncPlan, response: Bundle | undefined): SyncedResource[] {
  return plan.resources.map((p) => {
    if (p.entryIndex === undefined) {
      if (!p.ehrReference) throw new Error(`${p.localReference} has no EHR reference`);
      return { localReference: p.localReference, version: p.version, ehrReference: p.ehrReference, ehrVersion: p.ehrVersion ?? null };
    }
    const entry = response?.entry?.[p.entryIndex];
    const status = entry?.response?.status ?? '';
    if (!/^2\d\d/.test(status)) {
      throw new Error(`transaction-response entry ${p.entryIndex} for ${p.localReference} has status "${status}"`);
    }
    const location = entry?.response?.location ? parseLocation(entry.response.location) : undefined;
    const fromResource = entry?.resource?.id ? `${entry.resource.resourceType}/${entry.resource.id}` : undefined;
    const ehrReference = location?.reference ?? fromResource ?? p.ehrReference;
    if (!ehrReference) throw new Error(`transaction-response entry ${p.entryIndex} for ${p.localReference} has no location`);
    const etagVersion = entry?.response?.etag?.match(/^(?:W\/)?"(.*)"$/)?.[1];
    return {
      localReference: p.localReference,
      version: p.version,
      ehrReference,
      ehrVersion: location?.version ?? etagVersion ?? entry?.resource?.meta?.versionId ?? null,
    };
  });
}
