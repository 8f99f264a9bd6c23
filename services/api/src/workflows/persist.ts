import { enqueueOutbox, markPending, putResources, toVersionRefs, type Db } from '@kap/store';
import type { Resource } from '@medplum/fhirtypes';

/**
 * Stores resources, marks each stored version as pending EHR sync, and queues the sync
 * for the patient, all in the caller's transaction: what is accepted is never lost, and
 * nothing is queued for data that was rolled back (the transactional outbox).
 */
export async function persistForSync(tx: Db, patientId: string, resources: Resource[], reason: string): Promise<Resource[]> {
  const stored = await putResources(tx, resources, { patientId });
  await markPending(tx, toVersionRefs(stored));
  await enqueueOutbox(tx, { topic: 'ehr-sync', patientId, payload: { patientId, reason } });
  return stored;
}
