import { identityKey, planSync, type EhrClient, type EhrCopy, type KnownEhrCopy } from '@kap/ehr-client';
import { getSyncStates, listPatientResources, listSyncedResources, type Db, type ReconciledResource, type SyncedResource } from '@kap/store';
import type { ResourceType } from '@medplum/fhirtypes';
import { identityOf } from './identity';

/**
 * Reads back from the EHR, by the id it gave each resource, everything the adapter believes
 * it holds (for one patient, or all), and says per resource whether the EHR holds it as we
 * would write it now (`in-ehr`), lacks it (`missing`: 404 or 410), or holds something else
 * (`different`). Comparison is the sync planner's own: a resource it would leave out is in
 * the EHR as we hold it. Reads only; the caller decides what to queue again.
 */
export async function reconcileWithEhr(db: Db, ehr: EhrClient, patientId?: string): Promise<Omit<ReconciledResource, 'requeued'>[]> {
  const byPatient = new Map<string, SyncedResource[]>();
  for (const r of await listSyncedResources(db, patientId)) {
    const list = byPatient.get(r.patientId) ?? [];
    list.push(r);
    byPatient.set(r.patientId, list);
  }
  const results: Omit<ReconciledResource, 'requeued'>[] = [];
  for (const [patient, resources] of byPatient) {
    const found = await reconcilePatient(ehr, patient, resources, await knownCopies(db, patient));
    // A missing resource comes back under a new EHR id: whatever points at it there points at nothing.
    const missing = found.filter((r) => r.status === 'missing').map((r) => r.resource);
    for (const r of found) {
      const local = resources.find((x) => `${x.type}/${x.id}` === r.resource);
      if (r.status === 'in-ehr' && local && missing.some((m) => referencesTo(local.resource).has(m))) results.push({ ...r, status: 'different' });
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
  ehr: EhrClient,
  patient: string,
  resources: readonly SyncedResource[],
  known: ReadonlyMap<string, KnownEhrCopy>,
): Promise<Omit<ReconciledResource, 'requeued'>[]> {
  const results: Omit<ReconciledResource, 'requeued'>[] = [];
  for (const r of resources) {
    const local = `${r.type}/${r.id}`;
    const ehrRef = `${r.type}/${r.ehrId}`;
    const copy = await ehr.read(r.type as ResourceType, r.ehrId);
    if (!copy) {
      results.push({ patient: `Patient/${patient}`, resource: local, ehr: ehrRef, status: 'missing' });
      continue;
    }
    const existing = new Map<string, EhrCopy>([[identityKey(r.type, identityOf(r.resource)), { resource: copy.resource, ...(copy.etag ? { etag: copy.etag } : {}) }]]);
    let same: boolean;
    try {
      const plan = planSync({
        resources: [{ resource: r.resource, version: r.version, createOnly: r.type === 'Patient' }],
        identityOf,
        existing,
        knownEhrCopies: known,
      });
      same = plan.resources[0]?.action === 'unchanged';
    } catch {
      // It references something the EHR has not got yet: not as we hold it.
      same = false;
    }
    results.push({ patient: `Patient/${patient}`, resource: local, ehr: ehrRef, status: same ? 'in-ehr' : 'different' });
  }
  return results;
}

/** `Type/localId` → where earlier syncs put each of the patient's resources, so references compare as the EHR holds them. */
async function knownCopies(db: Db, patientId: string): Promise<Map<string, KnownEhrCopy>> {
  const all = await listPatientResources(db, patientId);
  const states = await getSyncStates(db, all.map((r) => ({ type: r.resourceType, id: r.id as string })));
  return new Map(states.filter((s) => s.ehrId).map((s) => [`${s.type}/${s.id}`, { reference: `${s.type}/${s.ehrId}`, version: s.ehrVersion }]));
}
