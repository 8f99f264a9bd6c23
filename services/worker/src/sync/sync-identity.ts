import type { SyncIdentity, TypePlan } from '@kap/ehr-client';
import { PROVENANCE_TAG_SYSTEM, RESOURCE_IDENTIFIER_SYSTEM } from '@kap/fhir';
import type { Identifier, Resource } from '@medplum/fhirtypes';

/** Types with no `identifier` element in R4: the adapter's identity travels as a meta tag. */
const TAGGED_TYPES = new Set(['Provenance', 'AuditEvent']);

/**
 * How each resource is found on the EHR, from what the EHR can search for its type. The
 * Patient by the hospital's own identifier (the EHR knows the patient by it; the adapter
 * never creates a second one); everything else by the adapter's identifier where the EHR
 * has an `identifier` search for the type, else by a meta tag carrying the same value
 * (Provenance and AuditEvent by their own tag), else not at all: then it is created once and found again
 * by the EHR id recorded at once. Without a plan (tests, tools): identifier, else tag.
 * An EHR without conditional create for the type still finds it by identity: the sync
 * searches before it creates, so a retry after a lost answer or a crash finds the first copy.
 */
export function syncIdentityOf(resource: Resource, plan?: TypePlan): SyncIdentity {
  const byIdentifier = plan ? plan.identity === 'identifier' : true;
  const byTag = plan ? plan.identity === 'tag' || plan.tagSearch : true;
  const chosen = syncIdentifier(resource);
  if (byIdentifier && chosen) return { by: 'identifier', system: chosen.system, value: chosen.value };
  if (byTag) {
    if (TAGGED_TYPES.has(resource.resourceType)) {
      const tag = resource.meta?.tag?.find((t) => t.system === PROVENANCE_TAG_SYSTEM);
      if (!tag?.code) throw new Error(`${resource.resourceType}/${resource.id} has no identity tag`);
      return { by: 'tag', system: PROVENANCE_TAG_SYSTEM, code: tag.code };
    }
    if (chosen && resource.resourceType !== 'Patient') return { by: 'tag', system: chosen.system, code: chosen.value };
  }
  if (!plan && !chosen) throw new Error(`${resource.resourceType}/${resource.id} has no sync identifier`);
  return { by: 'none' };
}

/** The identifier a resource is known by: the hospital's for the Patient, the adapter's for the rest. */
export function syncIdentifier(resource: Resource): { system: string; value: string } | undefined {
  const identifiers = 'identifier' in resource ? resource.identifier : undefined;
  const list: Identifier[] = Array.isArray(identifiers) ? identifiers : identifiers ? [identifiers as Identifier] : [];
  const chosen =
    resource.resourceType === 'Patient'
      ? list.find((i) => i.system && i.value && i.system !== RESOURCE_IDENTIFIER_SYSTEM)
      : list.find((i) => i.system === RESOURCE_IDENTIFIER_SYSTEM);
  return chosen?.system && chosen.value ? { system: chosen.system, value: chosen.value } : undefined;
}

/** Every identity key an EHR copy answers to, so a search result maps back to the local resource. */
export function syncIdentitiesOfEhrCopy(resource: Resource): SyncIdentity[] {
  const out: SyncIdentity[] = [];
  const identifiers = 'identifier' in resource ? resource.identifier : undefined;
  const list = Array.isArray(identifiers) ? identifiers : identifiers ? [identifiers] : [];
  for (const i of list) if (i.system && i.value) out.push({ by: 'identifier', system: i.system, value: i.value });
  for (const t of resource.meta?.tag ?? []) if (t.system && t.code) out.push({ by: 'tag', system: t.system, code: t.code });
  return out;
}
