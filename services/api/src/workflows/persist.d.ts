import { type Db } from '@kap/store';
import type { Resource } from '@medplum/fhirtypes';
/**
 * Stores resources, marks each stored version as pending EHR sync, and queues the sync
 * for the patient, all in the caller's transaction: what is accepted is never lost, and
 * nothing is queued for data that was rolled back (the transactional outbox).
 */
export declare function persistForSync(tx: Db, patientId: string, resources: Resource[], reason: string): Promise<Resource[]>;
//# sourceMappingURL=persist.d.ts.map