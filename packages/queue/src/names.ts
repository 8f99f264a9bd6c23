import { z } from 'zod';

/** The queues, one per kind of work (design.md): EHR writes, follow-up timers, notifications. */
export const QUEUE_NAMES = {
  ehrSync: 'ehr-sync',
  followUps: 'follow-ups',
  notify: 'notify',
  /** What the hospital sent (HL7 v2 ADT, FHIR notifications), applied, and Patient updates it causes in the EHR. */
  inbound: 'ehr-inbound',
} as const;
export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

/*
 * Job payloads carry ids only, never patient data: BullMQ keeps payloads in Redis in clear
 * text. Processors re-read everything else from PostgreSQL, so a job is also never stale.
 */

/** Sync a patient's unsynced resources to the EHR; `outboxId` is the row this job completes. */
export const EhrSyncJobData = z.strictObject({
  patientId: z.string().min(1),
  outboxId: z.number().int().positive(),
});
export type EhrSyncJobData = z.infer<typeof EhrSyncJobData>;

/** A follow-up's reminder before it is due, or its check when it falls due. */
export const FollowUpJobData = z.strictObject({
  followUpId: z.string().min(1),
  kind: z.enum(['reminder', 'due']),
});
export type FollowUpJobData = z.infer<typeof FollowUpJobData>;

/** Deliver one outbox notification (a CarePlan change, a reminder, an escalation) to its one subscriber. */
export const NotifyJobData = z.strictObject({
  outboxId: z.number().int().positive(),
});
export type NotifyJobData = z.infer<typeof NotifyJobData>;

/*
 * Job ids derive from business keys, so adding the same work twice (a relay re-dispatching
 * after Redis was flushed, a retried request) is a no-op in BullMQ. BullMQ reserves ':'.
 */
export const ehrSyncJobId = (outboxId: number): string => `ehr-sync-${outboxId}`;
export const followUpJobId = (followUpId: string, kind: FollowUpJobData['kind']): string => `follow-up-${followUpId}-${kind}`;
export const notifyJobId = (outboxId: number): string => `notify-${outboxId}`;

/** Apply one stored hospital message; `outboxId` is the row this job completes. */
export const InboundMessageJobData = z.strictObject({
  inboundMessageId: z.number().int().positive(),
  outboxId: z.number().int().positive(),
});
export type InboundMessageJobData = z.infer<typeof InboundMessageJobData>;

/** Bring the EHR's Patient up to date with demographics the hospital's feed changed. */
export const PatientUpdateJobData = z.strictObject({
  patientId: z.string().min(1),
  outboxId: z.number().int().positive(),
});
export type PatientUpdateJobData = z.infer<typeof PatientUpdateJobData>;

export const inboundJobId = (outboxId: number): string => `inbound-${outboxId}`;
