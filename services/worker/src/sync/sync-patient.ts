import {
  identityKey,
  isEhrError,
  planSync,
  syncedFromResponse,
  type EhrClient,
  type EhrCopy,
  type KnownEhrCopy,
  type LocalResource,
  type SyncIdentity,
} from '@kap/ehr-client';
import { getSyncStates, listPatientResources, listUnsynced, markSynced, type Db } from '@kap/store';
import type { Resource, ResourceType } from '@medplum/fhirtypes';
import { identitiesOfCopy, identityOf } from './identity';

export interface SyncOutcome {
  /** Resources written to the EHR in this run. */
  readonly written: number;
  /** Resources the EHR already held as they are here. */
  readonly unchanged: number;
}

/** How many times a 409/412 is answered by re-reading the EHR and planning again within one job. */
const CONFLICT_REPLANS = 3;

/**
 * Brings the EHR up to date with every unsynced resource of one patient, in one
 * all-or-nothing transaction (http://hl7.org/fhir/R4/http.html#transaction).
 *
 * The usual case costs one request: what was synced before is updated under If-Match of
 * the version written then, and the rest is created with If-None-Exist, which finds a
 * copy a lost response left behind rather than duplicating it. A 409 or 412 (the EHR
 * changed, or an earlier attempt landed unrecorded) makes it read the EHR first and plan
 * from what is there, leaving out what already matches, so a second run writes nothing.
 * The caller holds the patient's lease, so no other write for the patient runs meanwhile.
 */
export async function syncPatient(db: Db, ehr: EhrClient, patientId: string): Promise<SyncOutcome> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await syncOnce(db, ehr, patientId, attempt > 1);
    } catch (err) {
      const conflict = isEhrError(err) && (err.kind === 'precondition-failed' || err.kind === 'conflict');
      if (!conflict || attempt >= CONFLICT_REPLANS) throw err;
    }
  }
}

async function syncOnce(db: Db, ehr: EhrClient, patientId: string, readFirst: boolean): Promise<SyncOutcome> {
  const unsynced = await listUnsynced(db, patientId);
  if (unsynced.length === 0) return { written: 0, unchanged: 0 };

  const resources: LocalResource[] = unsynced.map((u) => ({
    resource: u.resource,
    version: u.version,
    createOnly: u.resource.resourceType === 'Patient',
  }));
  const existing = readFirst ? await readEhrCopies(ehr, resources.map((r) => r.resource)) : new Map<string, EhrCopy>();
  const knownEhrCopies = await knownCopies(db, patientId);
  const plan = planSync({ resources, identityOf, existing, knownEhrCopies });
  const response = plan.bundle ? await ehr.transaction(plan.bundle) : undefined;
  // A create the EHR answered 200 matched a copy already there: one an earlier attempt wrote
  // before its response was lost, possibly from an older version. Only reading it tells, so
  // those are left unsynced and a second pass reads the EHR, compares, and updates if needed.
  const matchedOld = new Set(
    plan.resources
      .filter((p) => p.action === 'create' && p.entryIndex !== undefined && !p.localReference.startsWith('Patient/'))
      .filter((p) => /^200\b/.test(response?.entry?.[p.entryIndex as number]?.response?.status ?? ''))
      .map((p) => p.localReference),
  );
  const synced = syncedFromResponse(plan, response).filter((s) => !matchedOld.has(s.localReference));
  await db.transaction(async (tx) => {
    for (const s of synced) {
      const [type, id] = s.localReference.split('/') as [string, string];
      await markSynced(tx, {
        type,
        id,
        localVersion: s.version,
        ehrId: s.ehrReference.split('/')[1] as string,
        ehrVersion: s.ehrVersion,
      });
    }
  });
  const written = plan.resources.filter((r) => r.action !== 'unchanged').length;
  if (matchedOld.size > 0 && !readFirst) {
    const second = await syncOnce(db, ehr, patientId, true);
    return { written: written - matchedOld.size + second.written, unchanged: plan.resources.length - written + second.unchanged };
  }
  return { written, unchanged: plan.resources.length - written };
}

/** Searches the EHR for each resource's identity, type by type; the searches are chunked by the client. */
async function readEhrCopies(ehr: EhrClient, resources: readonly Resource[]): Promise<Map<string, EhrCopy>> {
  const byType = new Map<string, SyncIdentity[]>();
  for (const r of resources) {
    const list = byType.get(r.resourceType) ?? [];
    list.push(identityOf(r));
    byType.set(r.resourceType, list);
  }
  const copies = new Map<string, EhrCopy>();
  const wanted = new Set(resources.map((r) => identityKey(r.resourceType, identityOf(r))));
  for (const [type, identities] of byType) {
    const byIdentifier = identities.filter((i): i is Extract<SyncIdentity, { by: 'identifier' }> => i.by === 'identifier');
    const byTag = identities.filter((i): i is Extract<SyncIdentity, { by: 'tag' }> => i.by === 'tag');
    const found: Resource[] = [];
    if (byIdentifier.length > 0) {
      found.push(...(await ehr.findByIdentifiers(type as ResourceType, byIdentifier.map((i) => ({ system: i.system, value: i.value })))));
    }
    for (const tag of byTag) {
      found.push(...(await ehr.searchAll(type as ResourceType, { _tag: `${tag.system}|${tag.code}` })));
    }
    for (const resource of found) {
      for (const identity of identitiesOfCopy(resource)) {
        const key = identityKey(type, identity);
        if (!wanted.has(key)) continue;
        if (copies.has(key)) {
          // Two EHR resources answer to one identity: someone else duplicated it. Refuse to guess.
          throw new Error(`The EHR holds more than one ${type} with identity ${key}; resolve the duplicate there`);
        }
        copies.set(key, { resource, etag: resource.meta?.versionId ? `W/"${resource.meta.versionId}"` : undefined });
      }
    }
  }
  return copies;
}

async function knownCopies(db: Db, patientId: string): Promise<Map<string, KnownEhrCopy>> {
  const all = await listPatientResources(db, patientId);
  const states = await getSyncStates(db, all.map((r) => ({ type: r.resourceType, id: r.id as string })));
  return new Map(
    states.filter((s) => s.ehrId).map((s) => [`${s.type}/${s.id}`, { reference: `${s.type}/${s.ehrId}`, version: s.ehrVersion }]),
  );
}
