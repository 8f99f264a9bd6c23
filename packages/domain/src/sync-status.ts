/**
 * Where a stored resource version stands with the EHR, as the store records it, the API
 * shows it and the database's CHECK constraint allows it (store's sync-state test holds
 * the constraint to this list).
 * `pending`: still to be written; `synced`: the EHR holds this version; `failed`: the queue
 * gave up (a dead letter holds the reason).
 * `not-sent`: a resource type this EHR does not take; it stays here, readable on the FHIR face.
 * `waiting-for-patient`: the EHR may not create Patients and has none with the hospital's
 * identifier yet; the sync goes on by itself once it has (ADT, reconcile or recheck).
 */
export const SYNC_STATUSES = ['pending', 'synced', 'failed', 'not-sent', 'waiting-for-patient'] as const;
export type SyncStatus = (typeof SYNC_STATUSES)[number];
