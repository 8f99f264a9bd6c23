import type { SyncIdentity } from '@kap/ehr-client';
import { PROVENANCE_TAG_SYSTEM, RESOURCE_IDENTIFIER_SYSTEM } from '@kap/fhir';
import type { Resource } from '@medplum/fhirtypes';

/**
 * How each resource is found on the EHR. The Patient by the hospital's own identifier (the
 * EHR knows the patient by it; the adapter never creates a second one); Provenance, which
 * has no identifier, by its meta tag; everything else by the adapter's identifier.
 */
export function identityOf(resource: Resource): SyncIdentity {
  if (resource.resourceType === 'Provenance') {
    const tag = resource.meta?.tag?.find((t) => t.system === PROVENANCE_TAG_SYSTEM);
    if (!tag?.code) throw new Error(`Provenance/${resource.id} has no identity tag`);
    return { by: 'tag', system: PROVENANCE_TAG_SYSTEM, code: tag.code };
  }
  const identifiers = 'identifier' in resource ? resource.identifier : undefined;
  const list = Array.isArray(identifiers) ? identifiers : identifiers ? [identifiers] : [];
  const chosen =
    resource.resourceType === 'Patient'
      ? list.find((i) => i.system && i.value && i.system !== RESOURCE_IDENTIFIER_SYSTEM)
      : list.find((i) => i.system === RESOURCE_IDENTIFIER_SYSTEM);
  if (!chosen?.system || !chosen.value) throw new Error(`${resource.resourceType}/${resource.id} has no sync identifier`);
  return { by: 'identifier', system: chosen.system, value: chosen.value };
}

/** Every identity key an EHR copy answers to, so a search result maps back to the local resource. */
export function identitiesOfCopy(resource: Resource): SyncIdentity[] {
  const out: SyncIdentity[] = [];
  const identifiers = 'identifier' in resource ? resource.identifier : undefined;
  const list = Array.isArray(identifiers) ? identifiers : identifiers ? [identifiers] : [];
  for (const i of list) if (i.system && i.value) out.push({ by: 'identifier', system: i.system, value: i.value });
  for (const t of resource.meta?.tag ?? []) if (t.system && t.code) out.push({ by: 'tag', system: t.system, code: t.code });
  return out;
}
