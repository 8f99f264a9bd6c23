import {
  chunkIdentifierTokens,
  syncIdentityKey,
  type EhrClient,
  type EhrCopy,
  type KnownEhrCopy,
  type SyncIdentity,
} from '@kap/ehr-client';
import type { Resource, ResourceType } from '@medplum/fhirtypes';
import { syncIdentitiesOfEhrCopy } from './sync-identity';

/** `Type/id` of every relative reference in a resource (logical and `urn:` ones are not local). */
export function localReferences(resource: Resource): string[] {
  const out = new Set<string>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') {
      for (const [key, v] of Object.entries(value)) {
        if (key === 'reference' && typeof v === 'string' && /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(v)) out.add(v);
        else walk(v);
      }
    }
  };
  walk(resource);
  return [...out];
}

/**
 * What the EHR holds for each resource, found the way the EHR can search its type:
 * comma-OR `identifier` or `_tag` searches (chunked so URLs stay short), or, for a type
 * it cannot search, a read of the EHR id recorded when it was created.
 */
export async function readEhrCopies(
  ehr: EhrClient,
  resources: readonly Resource[],
  syncIdentityOf: (resource: Resource) => SyncIdentity,
  known: ReadonlyMap<string, KnownEhrCopy>,
): Promise<Map<string, EhrCopy>> {
  const byType = new Map<string, Resource[]>();
  for (const r of resources) byType.set(r.resourceType, [...(byType.get(r.resourceType) ?? []), r]);
  const copies = new Map<string, EhrCopy>();
  const wanted = new Set(resources.map((r) => syncIdentityKey(r.resourceType, syncIdentityOf(r))));
  for (const [type, list] of byType) {
    const identities = list.map(syncIdentityOf);
    const byIdentifier = identities.flatMap((i) => (i.by === 'identifier' ? [{ system: i.system, value: i.value }] : []));
    const byTag = identities.flatMap((i) => (i.by === 'tag' ? [{ system: i.system, value: i.code }] : []));
    const found: Resource[] = [];
    if (byIdentifier.length > 0) found.push(...(await ehr.findByIdentifiers(type as ResourceType, byIdentifier)));
    for (const chunk of chunkIdentifierTokens(byTag)) {
      found.push(...(await ehr.searchAll(type as ResourceType, { _tag: chunk.join(','), _count: String(Math.max(chunk.length, 10)) })));
    }
    for (const resource of found) {
      for (const identity of syncIdentitiesOfEhrCopy(resource)) {
        const key = syncIdentityKey(type, identity);
        if (!wanted.has(key)) continue;
        if (copies.has(key) && copies.get(key)?.resource.id !== resource.id) {
          // Two EHR resources answer to one identity: someone else duplicated it. Refuse to guess.
          throw new Error(`The EHR holds more than one ${type} with identity ${key}; resolve the duplicate there`);
        }
        copies.set(key, { resource, etag: resource.meta?.versionId ? `W/"${resource.meta.versionId}"` : undefined });
      }
    }
  }
  // Types it cannot search: read what was recorded, keyed as the planner finds it.
  for (const r of resources) {
    if (syncIdentityOf(r).by !== 'none') continue;
    const copy = known.get(`${r.resourceType}/${r.id}`);
    if (!copy) continue;
    const [type, id] = copy.reference.split('/') as [ResourceType, string];
    const read = await ehr.read(type, id);
    if (read) copies.set(`none:${r.resourceType}/${r.id}`, { resource: read.resource, ...(read.etag ? { etag: read.etag } : {}) });
  }
  return copies;
}
