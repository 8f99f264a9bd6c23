import { webhookEventFor } from '@kap/domain';
import { v2ControlId, v2MessageKind } from '@kap/fhir';
import { putResources, toVersionRefs, type TenantDb, type WriteStatement } from '@kap/store';
import type { Resource } from '@medplum/fhirtypes';
import { enqueueWorkMarkingPending, workMarkingPending, workRequest, type WorkRequest } from './enqueue';
import { WORK } from './units';

export interface SaveForSyncOptions {
  /** Why: kept in the outbox row for operators (never patient data). */
  readonly reason: string;
  /** Webhook subscribers; each change the webhook policy names gets one delivery per URL. */
  readonly webhookUrls?: readonly string[];
  /** The course these resources change: its note is rebuilt (a `course-note` row in the same statement). */
  readonly courseId?: string;
  /** The command's other units of work, written with these in the same statement. */
  readonly alsoEnqueue?: readonly WorkRequest[];
  /**
   * The tenant sends HL7 v2 to an interface engine (HL7_OUT_HOST): each stored version of a
   * vital-sign Observation, PHQ-9/GAD-7 total or DocumentReference also gets a v2 message row.
   */
  readonly hl7Out?: boolean;
  /**
   * Takes the pending marks and outbox rows instead of writing them now, for the caller to
   * send with its last writes (writeTogether, before commit): nothing this call returns depends on them.
   */
  readonly defer?: (statements: readonly WriteStatement[]) => void;
}

/**
 * Stores resources, marks each stored version pending EHR sync, asks for the patient's
 * sync, and for a webhook per subscriber for each change the palliative team is told of,
 * with the command's other work (and, for a tenant with HL7 out, a v2 message per qualifying version) in one outbox statement, all in the
 * caller's transaction (the transactional outbox): what is accepted is never lost, and nothing is queued for data that was rolled back.
 */
export async function saveForSync(
  tx: TenantDb,
  patientId: string,
  resources: readonly Resource[],
  options: SaveForSyncOptions,
): Promise<Resource[]> {
  const stored = await putResources(tx, resources, { patientId });
  const work = [workRequest(WORK.ehrSync, { patientId, reason: options.reason }, { patientId })];
  for (const resource of stored) {
    const event = webhookEventFor(resource.resourceType);
    if (!event) continue;
    for (const url of options.webhookUrls ?? []) {
      const notice = { event, resource: `${resource.resourceType}/${resource.id}`, version: resource.meta?.versionId ?? '1', url };
      work.push(workRequest(WORK.notify, notice, { patientId }));
    }
  }
  if (options.courseId) work.push(workRequest(WORK.courseNote, { courseId: options.courseId }, { patientId }));
  if (options.hl7Out) {
    for (const resource of stored) {
      const messageType = v2MessageKind(resource);
      if (!messageType || !resource.id) continue;
      const version = resource.meta?.versionId ?? '1';
      const controlId = v2ControlId(resource.resourceType, resource.id, version);
      const resourceType = resource.resourceType as 'Observation' | 'DocumentReference';
      work.push(workRequest(WORK.hl7Out, { resourceType, resourceId: resource.id, version, controlId, messageType }, { patientId }));
    }
  }
  // The pending marks ride with the outbox rows: one statement.
  const requests = [...work, ...(options.alsoEnqueue ?? [])];
  if (options.defer) options.defer(workMarkingPending(toVersionRefs(stored), requests));
  else await enqueueWorkMarkingPending(tx, toVersionRefs(stored), requests);
  return stored;
}
