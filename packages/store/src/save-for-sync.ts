import type { Resource } from '@medplum/fhirtypes';
import type { Db } from './db';
import { enqueueOutbox } from './outbox';
import { putResources } from './resources';
import { markPending, toVersionRefs } from './sync-state';

/**
 * Outbox topics: the work a write asks the worker to do, committed with the write. The
 * worker's relay maps each to its queue. Payloads carry ids only.
 */
export const OUTBOX_TOPICS = {
  /** `{ patientId }`: sync the patient's unsynced resources to the EHR. */
  ehrSync: 'ehr-sync',
  /** `{ followUpId, dueBy, remindAt }`: the follow-up's reminder and due-time jobs. */
  followUpSchedule: 'follow-up-schedule',
  /** `{ followUpIds }`: remove the jobs of cancelled follow-ups. */
  followUpCancel: 'follow-up-cancel',
  /** `{ event, resource, version, url }`: one signed webhook to one subscriber. */
  notify: 'notify',
} as const;

/** The resource types the palliative team is sent as webhooks when they change. */
const NOTIFIED_TYPES: Readonly<Record<string, string>> = {
  CarePlan: 'careplan.updated',
  Communication: 'care-team.notification',
};

export interface SaveForSyncOptions {
  /** Why: kept in the outbox row for operators (never patient data). */
  readonly reason: string;
  /** Webhook subscribers; each changed CarePlan or Communication gets one delivery per URL. */
  readonly webhookUrls?: readonly string[];
}

/**
 * Stores resources, marks each stored version pending EHR sync, queues the patient's sync,
 * and queues a webhook per subscriber for each changed CarePlan or Communication, all in
 * the caller's transaction (the transactional outbox): what is accepted is never lost, and
 * nothing is queued for data that was rolled back.
 */
export async function saveForSync(tx: Db, patientId: string, resources: readonly Resource[], options: SaveForSyncOptions): Promise<Resource[]> {
  const stored = await putResources(tx, resources, { patientId });
  await markPending(tx, toVersionRefs(stored));
  await enqueueOutbox(tx, { topic: OUTBOX_TOPICS.ehrSync, patientId, payload: { patientId, reason: options.reason } });
  for (const resource of stored) {
    const event = NOTIFIED_TYPES[resource.resourceType];
    if (!event) continue;
    for (const url of options.webhookUrls ?? []) {
      await enqueueOutbox(tx, {
        topic: OUTBOX_TOPICS.notify,
        patientId,
        payload: { event, resource: `${resource.resourceType}/${resource.id}`, version: resource.meta?.versionId ?? '1', url },
      });
    }
  }
  return stored;
}
