import {
  capabilityCache,
  copyKey,
  decideWriteStrategy,
  syncIdentityKey,
  planSync,
  type EhrClient,
  type EhrCopy,
  type EhrWriteSettings,
  type SyncIdentity,
  type WriteStrategy,
} from '@kap/ehr-client';
import { listPatientResources, listSyncedResources, type TenantDb, type ReconciledResource, type SyncedResource } from '@kap/store';
import type { Resource, ResourceType } from '@medplum/fhirtypes';
import { syncIdentitiesOfEhrCopy, syncIdentityOf } from './sync-identity';
import { keptBackReferences, knownCopies } from './sync-patient';

type Found = Omit<ReconciledResource, 'requeued'>;

/**
 * Reads back from the EHR, by the id it gave each resource, everything the adapter believes
 * it holds (for one patient, or all), and says per resource whether the EHR holds it as we
 * would write it now (`in-ehr`), lacks it (`missing`: 404 or 410), or holds something else
 * (`different`). Comparison is the sync planner's own, with the same write strategy, so a
 * resource it would leave out is in the EHR as we hold it. Reads only; the caller decides
 * what to queue again.
 */
export async function reconcileWithEhr(db: TenantDb, ehr: EhrClient, settings: EhrWriteSettings, patientId?: string): Promise<Found[]> {
  const strategy = decideWriteStrategy(await capabilityCache(ehr, settings.capabilitiesRefreshMs).get(), settings);
  const byPatient = new Map<string, SyncedResource[]>();
  for (const r of await listSyncedResources(db, patientId)) {
    const list = byPatient.get(r.patientId) ?? [];
    list.push(r);
    byPatient.set(r.patientId, list);
  }
  const results: Found[] = [];
  for (const [patient, resources] of byPatient) {
    const found = await reconcilePatient(db, ehr, strategy, patient, resources);
    // A missing resource comes back under a new EHR id: whatever points at it there points at nothing.
    const missing = found.filter((r) => r.status === 'missing').map((r) => r.resource);
    for (const r of found) {
      const local = resources.find((x) => `${x.type}/${x.id}` === r.resource);
      if (r.status === 'in-ehr' && local && missing.some((m) => referencesTo(local.resource).has(m)))
        results.push({ ...r, status: 'different' });
      else results.push(r);
    }
  }
  return results;
}

const referencesTo = (resource: unknown): Set<string> => {
  const refs = new Set<string>();
  JSON.stringify(resource, (key, value: unknown) => {
    if (key === 'reference' && typeof value === 'string') refs.add(value);
    return value;
  });
  return refs;
};

async function reconcilePatient(
  db: TenantDb,
  ehr: EhrClient,
  strategy: WriteStrategy,
  patient: string,
  resources: readonly SyncedResource[],
): Promise<Found[]> {
  const all = await listPatientResources(db, patient);
  const known = await knownCopies(db, all);
  const keptBack = keptBackReferences(all, strategy);
  const identity = (r: Resource) => syncIdentityOf(r, strategy.forType(r.resourceType));
  const duplicates = await findDuplicates(
    ehr,
    resources.filter((r) => r.type !== 'Patient'),
    identity,
  );
  const results: Found[] = [];
  for (const r of resources) {
    const local = `${r.type}/${r.id}`;
    const ehrRef = `${r.type}/${r.ehrId}`;
    const at = { patient: `Patient/${patient}`, resource: local, ehr: ehrRef };
    const copy = await ehr.read(r.type as ResourceType, r.ehrId);
    if (!copy) {
      results.push({ ...at, status: 'missing' });
      continue;
    }
    const existing = new Map<string, EhrCopy>([
      [copyKey(r.resource, identity(r.resource)), { resource: copy.resource, ...(copy.etag ? { etag: copy.etag } : {}) }],
    ]);
    let same: boolean;
    try {
      const plan = planSync({
        resources: [{ resource: r.resource, version: r.version, createOnly: r.type === 'Patient' }],
        syncIdentityOf: identity,
        existing,
        knownEhrCopies: known,
        keptBack,
      });
      same = plan.resources[0]?.action === 'unchanged';
    } catch {
      // It references something the EHR has not got yet: not as we hold it.
      same = false;
    }
    const others = (duplicates.get(`${r.type}/${r.id}`) ?? []).filter((ref) => ref !== ehrRef);
    results.push({ ...at, status: same ? 'in-ehr' : 'different', ...(others.length > 0 ? { duplicates: others } : {}) });
  }
  return results;
}

/**
 * `Type/id` here → every EHR resource answering to its identity, where more than one does:
 * what a create outside the exactly-once path (another system, a server ignoring
 * `If-None-Exist`) left there. Searched the way the sync finds each type.
 */
async function findDuplicates(
  ehr: EhrClient,
  resources: readonly SyncedResource[],
  identity: (r: Resource) => SyncIdentity,
): Promise<Map<string, string[]>> {
  const byType = new Map<string, SyncedResource[]>();
  for (const r of resources) byType.set(r.type, [...(byType.get(r.type) ?? []), r]);
  const out = new Map<string, string[]>();
  for (const [type, list] of byType) {
    const wanted = new Map<string, string>();
    const byIdentifier: { system: string; value: string }[] = [];
    const byTag: string[] = [];
    for (const r of list) {
      const id = identity(r.resource);
      if (id.by === 'none') continue;
      wanted.set(syncIdentityKey(type, id), `${r.type}/${r.id}`);
      if (id.by === 'identifier') byIdentifier.push({ system: id.system, value: id.value });
      else byTag.push(`${id.system}|${id.code}`);
    }
    const found: Resource[] = [];
    if (byIdentifier.length > 0) found.push(...(await ehr.findByIdentifiers(type as ResourceType, byIdentifier)));
    for (const tag of byTag) found.push(...(await ehr.searchAll(type as ResourceType, { _tag: tag })));
    const seen = new Map<string, Set<string>>();
    for (const copy of found) {
      for (const key of syncIdentitiesOfEhrCopy(copy).map((i) => syncIdentityKey(type, i))) {
        const local = wanted.get(key);
        if (local) seen.set(local, new Set([...(seen.get(local) ?? []), `${type}/${copy.id}`]));
      }
    }
    for (const [local, refs] of seen) if (refs.size > 1) out.set(local, [...refs].sort());
  }
  return out;
}
