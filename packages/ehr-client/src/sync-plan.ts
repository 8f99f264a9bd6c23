import type { Bundle, BundleEntry, Identifier, Resource } from '@medplum/fhirtypes';
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
  | { readonly by: 'tag'; readonly system: string; readonly code: string }
  /** The EHR cannot search for it: created unconditionally, found again only by the EHR id recorded. */
  | { readonly by: 'none' };

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
  readonly syncIdentityOf: (resource: Resource) => SyncIdentity;
  /**
   * EHR copies found by identity, keyed by `syncIdentityKey`, when the EHR was searched first.
   * Empty on the fast path: then what was synced before is updated under If-Match of the
   * version written then, and the rest is created conditionally.
   */
  readonly existing: ReadonlyMap<string, EhrCopy>;
  /** `Type/localId` → where earlier syncs put it. */
  readonly knownEhrCopies: ReadonlyMap<string, KnownEhrCopy>;
  /** `transaction` (default) or `batch`: the Bundle built; the entries are the same. */
  readonly bundleType?: 'transaction' | 'batch';
  /**
   * `Type/localId` of resources this EHR does not take → their business identifier: a
   * reference to one is sent as a logical reference (`Reference.identifier`) instead.
   */
  readonly keptBack?: ReadonlyMap<string, Identifier>;
  /** `Type/localId` → references it is written without this time (a cycle broken open). */
  readonly stubs?: ReadonlyMap<string, ReadonlySet<string>>;
  /**
   * Whether the EHR honours `If-None-Exist` for a resource's type (default: yes). Where it
   * does not, a create is plain and its exactly-once rests on the caller: it searched by the
   * identity first (a copy found is in `existing`) and holds the patient's lease.
   */
  readonly conditionalCreate?: (resource: Resource) => boolean;
}

export type PlannedAction = 'create' | 'update' | 'unchanged';

export interface PlannedResource {
  readonly localReference: string;
  readonly version: number;
  readonly action: PlannedAction;
  /** Index of its entry in the transaction; absent when unchanged. */
  readonly entryIndex?: number;
  /** The request for it (the Bundle's entry at `entryIndex`), to send on its own when needed. */
  readonly entry?: BundleEntry;
  /** Written without some of its references: the EHR copy is not this version yet. */
  readonly stub?: boolean;
  /** Known before sending for update and unchanged; from the response for create. */
  readonly ehrReference?: string;
  readonly ehrVersion?: string;
}

export interface SyncPlan {
  /** Absent when the EHR already matches. */
  readonly bundle?: Bundle;
  readonly resources: readonly PlannedResource[];
}

export const syncIdentityKey = (type: string, identity: SyncIdentity): string =>
  identity.by === 'identifier'
    ? `${type}|identifier|${identityToken(identity)}`
    : identity.by === 'tag'
      ? `${type}|tag|${identity.system}|${identity.code}`
      : `${type}|none`;

const identityToken = (identity: Exclude<SyncIdentity, { by: 'none' }>): string =>
  identity.by === 'identifier'
    ? identifierToken({ system: identity.system, value: identity.value })
    : `${identity.system}|${identity.code}`;

/**
 * The key of `SyncPlanInput.existing` for a resource: its identity key, or for a type the
 * EHR cannot search, the local reference (such a copy is found by reading its recorded id).
 */
export const copyKey = (resource: Resource, identity: SyncIdentity): string =>
  identity.by === 'none' ? `none:${resource.resourceType}/${resource.id ?? ''}` : syncIdentityKey(resource.resourceType, identity);

/** The search that finds an identity, as `If-None-Exist` takes it; undefined when there is none. */
export function syncIdentitySearch(identity: SyncIdentity): string | undefined {
  if (identity.by === 'none') return undefined;
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
    const identity = input.syncIdentityOf(item.resource);
    const copy = input.existing.get(copyKey(item.resource, identity));
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
  const keptBack = input.keptBack ?? new Map<string, Identifier>();
  const rewrite = (resource: Resource, drop: ReadonlySet<string> = new Set()): Resource =>
    rewriteReferenceObjects(resource, (ref) => {
      const reference = ref.reference as string;
      if (drop.has(reference)) return undefined;
      const logical = keptBack.get(reference);
      if (logical) {
        // The EHR does not take that type: point at it by its business identifier (R4 logical reference).
        const { reference: _r, ...rest } = ref;
        return { ...rest, identifier: logical };
      }
      const mapped = target.get(reference);
      if (mapped) return { ...ref, reference: mapped };
      const [type, id] = reference.split('/');
      if (type && id && !reference.includes(':') && /^[A-Z]/.test(type) && !local.has(reference)) {
        throw new Error(`${reference} is referenced but neither synced nor part of this sync`);
      }
      return ref;
    });

  const entries: BundleEntry[] = [];
  const planned: PlannedResource[] = decided.map(({ item, identity, copy }) => {
    const localReference = refOf(item.resource);
    const drop = input.stubs?.get(localReference);
    const stub = drop && drop.size > 0 ? { stub: true as const } : {};
    const outgoing = withIdentityTag(rewrite(stripServerFields(item.resource), drop), identity);
    const known = input.knownEhrCopies.get(localReference);
    if (!copy && known) {
      // Synced before and not searched for: the EHR holds the version we wrote, unless someone
      // changed it since, which If-Match turns into a 412 and a re-plan from a fresh read.
      if (item.createOnly)
        return {
          localReference,
          version: item.version,
          action: 'unchanged',
          ehrReference: known.reference,
          ehrVersion: known.version ?? undefined,
        };
      const entry: BundleEntry = {
        fullUrl: `urn:uuid:${item.resource.id}`,
        resource: { ...outgoing, id: known.reference.split('/')[1] },
        request: { method: 'PUT', url: known.reference, ...(known.version ? { ifMatch: `W/"${known.version}"` } : {}) },
      };
      entries.push(entry);
      return {
        localReference,
        version: item.version,
        action: 'update',
        entryIndex: entries.length - 1,
        entry,
        ehrReference: known.reference,
        ...stub,
      };
    }
    if (!copy) {
      const ifNoneExist = input.conditionalCreate?.(item.resource) === false ? undefined : syncIdentitySearch(identity);
      const entry: BundleEntry = {
        fullUrl: `urn:uuid:${item.resource.id}`,
        resource: outgoing,
        request: { method: 'POST', url: item.resource.resourceType, ...(ifNoneExist ? { ifNoneExist } : {}) },
      };
      entries.push(entry);
      return { localReference, version: item.version, action: 'create', entryIndex: entries.length - 1, entry, ...stub };
    }
    const ehrReference = `${item.resource.resourceType}/${copy.resource.id}`;
    const ehrVersion = versionOfCopy(copy);
    if (item.createOnly || sameContent(outgoing, copy.resource)) {
      return { localReference, version: item.version, action: 'unchanged', ehrReference, ehrVersion };
    }
    const entry: BundleEntry = {
      fullUrl: `urn:uuid:${item.resource.id}`,
      resource: { ...outgoing, id: copy.resource.id },
      request: { method: 'PUT', url: ehrReference, ...(copy.etag || ehrVersion ? { ifMatch: copy.etag ?? `W/"${ehrVersion}"` } : {}) },
    };
    entries.push(entry);
    return { localReference, version: item.version, action: 'update', entryIndex: entries.length - 1, entry, ehrReference, ...stub };
  });

  return {
    resources: planned,
    ...(entries.length > 0 ? { bundle: { resourceType: 'Bundle', type: input.bundleType ?? 'transaction', entry: entries } } : {}),
  };
}

/** A resource found by `_tag` carries its identity tag on the EHR, whatever it carried here. */
function withIdentityTag(resource: Resource, identity: SyncIdentity): Resource {
  if (identity.by !== 'tag') return resource;
  const tags = resource.meta?.tag ?? [];
  if (tags.some((t) => t.system === identity.system && t.code === identity.code)) return resource;
  return { ...resource, meta: { ...resource.meta, tag: [...tags, { system: identity.system, code: identity.code }] } } as Resource;
}

/**
 * A deep copy with every Reference (an object with a string `reference`) passed through
 * `map`; `undefined` removes it (from its array, or the property holding it).
 */
export function rewriteReferenceObjects<T extends Resource>(
  resource: T,
  map: (reference: Record<string, unknown>) => Record<string, unknown> | undefined,
): T {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk).filter((v) => v !== undefined);
    if (value && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      if (typeof record['reference'] === 'string') {
        const mapped = map(record);
        if (!mapped) return undefined;
        const out: Record<string, unknown> = {};
        for (const [key, v] of Object.entries(mapped)) out[key] = key === 'reference' || key === 'identifier' ? v : walk(v);
        return out;
      }
      const out: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(record)) {
        const next = walk(v);
        if (next !== undefined && !(Array.isArray(next) && next.length === 0 && Array.isArray(v) && v.length > 0)) out[key] = next;
      }
      return out;
    }
    return value;
  };
  return walk(resource) as T;
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

/** What the EHR answered for one planned resource. */
export type EntryResult =
  | {
      readonly localReference: string;
      readonly ok: SyncedResource;
      /** A conditional create matched a copy already there (200, not 201): its content is unknown. */
      readonly matchedExisting: boolean;
      readonly stub: boolean;
    }
  | { readonly localReference: string; readonly refused: string; readonly status: string };

/**
 * Checks a transaction- or batch-response entry by entry: a 200 for the whole Bundle proves
 * nothing (a server may run a transaction as a non-atomic batch and report failures only in
 * its entries), so each resource is synced only on its own 2xx with a location.
 */
export function entryResults(plan: SyncPlan, response: Bundle | undefined): EntryResult[] {
  return plan.resources.map((p): EntryResult => {
    if (p.entryIndex === undefined) {
      if (!p.ehrReference) return { localReference: p.localReference, refused: 'no EHR reference', status: '' };
      return {
        localReference: p.localReference,
        ok: { localReference: p.localReference, version: p.version, ehrReference: p.ehrReference, ehrVersion: p.ehrVersion ?? null },
        matchedExisting: false,
        stub: false,
      };
    }
    const entry = response?.entry?.[p.entryIndex];
    return entryResult(
      p,
      entry?.response?.status ?? '',
      entry?.response?.location,
      entry?.response?.etag,
      entry?.resource,
      entry?.response?.outcome,
    );
  });
}

/** The result of one write, from its status, location, ETag and returned resource. */
export function entryResult(
  p: PlannedResource,
  status: string,
  location: string | undefined,
  etag: string | undefined,
  resource: Resource | undefined,
  outcome?: Resource,
): EntryResult {
  if (!/^2\d\d/.test(status)) {
    return { localReference: p.localReference, refused: outcomeText(outcome) ?? `status ${status || 'missing'}`, status };
  }
  const parsed = location ? parseLocation(location) : undefined;
  const fromResource = resource?.id ? `${resource.resourceType}/${resource.id}` : undefined;
  const ehrReference = parsed?.reference ?? fromResource ?? p.ehrReference;
  if (!ehrReference) return { localReference: p.localReference, refused: 'the EHR answered without a location', status };
  const etagVersion = etag?.match(/^(?:W\/)?"(.*)"$/)?.[1];
  return {
    localReference: p.localReference,
    ok: {
      localReference: p.localReference,
      version: p.version,
      ehrReference,
      ehrVersion: parsed?.version ?? etagVersion ?? resource?.meta?.versionId ?? null,
    },
    matchedExisting: p.action === 'create' && /^200\b/.test(status),
    stub: p.stub === true,
  };
}

/** The diagnostics of an OperationOutcome, for sync state and dead letters (no resource content). */
export function outcomeText(outcome: Resource | undefined): string | undefined {
  if (!outcome || outcome.resourceType !== 'OperationOutcome') return undefined;
  const texts = outcome.issue
    ?.map((i) => [i.diagnostics ?? i.details?.text, i.expression?.join(', ')].filter(Boolean).join(' at '))
    .filter(Boolean);
  return texts && texts.length > 0 ? texts.join('; ').slice(0, 500) : undefined;
}
