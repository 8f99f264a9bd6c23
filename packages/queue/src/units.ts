import { randomBytes } from 'node:crypto';
import { TENANT_ID_PATTERN } from '@kap/config';
import type { JobsOptions } from 'bullmq';
import { z } from 'zod';

/**
 * Every unit of background work, declared once: its outbox topic, the payload the outbox row
 * holds (checked when it is written and again when it is relayed), the queue its jobs go to,
 * their ids and options. The worker's relay is a loop over this registry.
 *
 * Payloads and job data carry ids only, never patient data: BullMQ keeps them in Redis in
 * clear text. Processors re-read everything else from PostgreSQL, so a job is never stale.
 *
 * Every row and job carries its tenant: a processor reads and writes only through that
 * tenant's database handle and uses only that tenant's EHR connection and webhooks.
 */

/** The queues, one per kind of work (docs/design.md#data-flow). */
export const QUEUE_NAMES = {
  ehrSync: 'ehr-sync',
  followUps: 'follow-ups',
  notify: 'notify',
  reconcile: 'reconcile',
  /** What the hospital sent (HL7 v2 ADT, FHIR notifications), applied, and the Patient updates it causes in the EHR. */
  inbound: 'ehr-inbound',
  /** The course note rebuilt from the stored course; saving it asks for the patient's sync. */
  courseNotes: 'course-notes',
  /** HL7 v2 results and notes to the hospital's interface engine over MLLP. */
  hl7Out: 'hl7-out',
} as const;
export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

/** What job options depend on: how long EHR writes and webhook deliveries keep retrying. */
export interface JobLimits {
  readonly syncAttempts: number;
  readonly webhookAttempts: number;
}

/** One job a row asks for; `runAt` (epoch ms) delays it. */
export interface JobRequest<N extends string = string> {
  readonly name: N;
  readonly data: Record<string, unknown>;
  readonly runAt?: number;
}

/** The row as a unit sees it when its jobs are made. */
export interface OutboxRowRef {
  /** The outbox row's key: the job carries it, and its processor completes the row by it. */
  readonly key: string;
  readonly patientId: string | null;
  /** Whose work it is; every job of the row carries it. */
  readonly tenantId: string;
}

/** A tenant id in job data: the relay copies it from the outbox row's own `tenant_id`. */
export const TenantId = z.string().regex(TENANT_ID_PATTERN);

/**
 * The unit's payload as stored. Rows written before migration 20 also carried their tenant in
 * the payload; the row's `tenant_id` column is the one the relay trusts, so that copy is dropped.
 */
export function unitPayload(stored: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { tenantId: _legacy, ...payload } = stored;
  return payload;
}

export interface WorkUnit<P, N extends string = string> {
  readonly topic: string;
  readonly payload: z.ZodType<P>;
  readonly queue: QueueName;
  /**
   * The names its jobs carry, unique on its queue: the worker hands a job to this unit's
   * processor by its name. Jobs already in Redis keep theirs, so a name stays.
   */
  readonly jobNames: readonly N[];
  /** The jobs one row stands for; the first is the one whose processor completes the row. */
  jobs(payload: P, row: OutboxRowRef): JobRequest<N>[];
  options(limits: JobLimits): JobsOptions;
}

const defineUnit = <P, N extends string>(unit: WorkUnit<P, N>): WorkUnit<P, N> => unit;

/** Finished jobs stay visible for a day (failed ones a month), then BullMQ removes them. */
const KEEP = { removeOnComplete: { age: 24 * 3600, count: 10_000 }, removeOnFail: { age: 30 * 24 * 3600 } } as const;
const outboxKey = z.uuid();

/** Sync a patient's unsynced resources to the EHR. */
export const EhrSyncJobData = z.strictObject({ patientId: z.string().min(1), outboxKey, tenantId: TenantId });
export type EhrSyncJobData = z.infer<typeof EhrSyncJobData>;

/** A follow-up's reminder before it is due, or its check when it falls due. */
export const FollowUpJobData = z.strictObject({
  followUpId: z.string().min(1),
  kind: z.enum(['reminder', 'due']),
  outboxKey,
  tenantId: TenantId,
});
export type FollowUpJobData = z.infer<typeof FollowUpJobData>;

/** Remove the timers of follow-ups that were completed or cancelled. */
export const FollowUpCancelJobData = z.strictObject({ followUpIds: z.array(z.string().min(1)), outboxKey, tenantId: TenantId });
export type FollowUpCancelJobData = z.infer<typeof FollowUpCancelJobData>;

/** Deliver one outbox notification (a CarePlan change, a care-team message) to its one subscriber. */
export const NotifyJobData = z.strictObject({ outboxKey, tenantId: TenantId });
export type NotifyJobData = z.infer<typeof NotifyJobData>;

/** Read back from the EHR what a reconciliation covers. */
export const ReconcileJobData = z.strictObject({ reconciliationId: z.uuid(), outboxKey, tenantId: TenantId });
export type ReconcileJobData = z.infer<typeof ReconcileJobData>;

/** Apply one stored hospital message (HL7 v2 or FHIR notification). */
export const InboundMessageJobData = z.strictObject({ inboundMessageId: z.number().int().positive(), outboxKey, tenantId: TenantId });
export type InboundMessageJobData = z.infer<typeof InboundMessageJobData>;

/** Bring the EHR's Patient up to date with demographics the hospital's feed changed. */
export const PatientUpdateJobData = z.strictObject({ patientId: z.string().min(1), outboxKey, tenantId: TenantId });
export type PatientUpdateJobData = z.infer<typeof PatientUpdateJobData>;

/** Rebuild a course's note from what is stored now. */
export const CourseNoteJobData = z.strictObject({ courseId: z.string().min(1), outboxKey, tenantId: TenantId });
export type CourseNoteJobData = z.infer<typeof CourseNoteJobData>;
/** A safety alert's acknowledgement deadline: when it passes with the alert still open, the alert escalates. */
export const SafetyAlertJobData = z.strictObject({
  alertId: z.uuid(),
  escalation: z.number().int().positive(),
  dueAt: z.iso.datetime({ offset: true }),
  outboxKey,
  tenantId: TenantId,
});
export type SafetyAlertJobData = z.infer<typeof SafetyAlertJobData>;
/** Send one stored resource version to the tenant's interface engine as an HL7 v2 message. */
export const Hl7OutJobData = z.strictObject({ outboxKey, tenantId: TenantId });
export type Hl7OutJobData = z.infer<typeof Hl7OutJobData>;

export const WORK = {
  ehrSync: defineUnit({
    topic: 'ehr-sync',
    payload: z.strictObject({ patientId: z.string().min(1), reason: z.string().min(1) }),
    queue: QUEUE_NAMES.ehrSync,
    jobNames: ['sync'],
    jobs: (p, row) => [
      { name: 'sync', data: EhrSyncJobData.parse({ patientId: p.patientId, outboxKey: row.key, tenantId: row.tenantId }) },
    ],
    options: (l) => ({ attempts: l.syncAttempts, backoff: { type: 'custom' }, ...KEEP }),
  }),
  followUpSchedule: defineUnit({
    topic: 'follow-up-schedule',
    payload: z.strictObject({
      followUpId: z.string().min(1),
      dueBy: z.iso.datetime({ offset: true }),
      remindAt: z.iso.datetime({ offset: true }),
    }),
    queue: QUEUE_NAMES.followUps,
    jobNames: ['due', 'reminder'],
    jobs: (p, row) => [
      {
        name: 'due',
        data: FollowUpJobData.parse({ followUpId: p.followUpId, kind: 'due', outboxKey: row.key, tenantId: row.tenantId }),
        runAt: Date.parse(p.dueBy),
      },
      {
        name: 'reminder',
        data: FollowUpJobData.parse({ followUpId: p.followUpId, kind: 'reminder', outboxKey: row.key, tenantId: row.tenantId }),
        runAt: Date.parse(p.remindAt),
      },
    ],
    options: () => ({ attempts: 10, backoff: { type: 'custom' }, ...KEEP }),
  }),
  // A timer like the follow-ups' (same queue): one row per deadline, the escalation it would be. The
  // processor completes the row in the transaction that records the escalation and asks for the next.
  safetyAlertEscalation: defineUnit({
    topic: 'safety-alert-escalation',
    payload: z.strictObject({ alertId: z.uuid(), escalation: z.number().int().positive(), dueAt: z.iso.datetime({ offset: true }) }),
    queue: QUEUE_NAMES.followUps,
    jobNames: ['alert-escalation'],
    jobs: (p, row) => [
      {
        name: 'alert-escalation',
        data: SafetyAlertJobData.parse({ ...p, outboxKey: row.key, tenantId: row.tenantId }),
        runAt: Date.parse(p.dueAt),
      },
    ],
    options: () => ({ attempts: 10, backoff: { type: 'custom' }, ...KEEP }),
  }),
  followUpCancel: defineUnit({
    topic: 'follow-up-cancel',
    payload: z.strictObject({ followUpIds: z.array(z.string().min(1)).min(1) }),
    queue: QUEUE_NAMES.followUps,
    jobNames: ['cancel'],
    jobs: (p, row) => [
      { name: 'cancel', data: FollowUpCancelJobData.parse({ followUpIds: p.followUpIds, outboxKey: row.key, tenantId: row.tenantId }) },
    ],
    options: () => ({ attempts: 10, backoff: { type: 'custom' }, ...KEEP }),
  }),
  notify: defineUnit({
    topic: 'notify',
    payload: z.strictObject({
      event: z.enum(['careplan.updated', 'care-team.notification']),
      resource: z.string().regex(/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/),
      version: z.string().min(1),
      url: z.url(),
    }),
    queue: QUEUE_NAMES.notify,
    jobNames: ['careplan.updated', 'care-team.notification'],
    jobs: (p, row) => [{ name: p.event, data: NotifyJobData.parse({ outboxKey: row.key, tenantId: row.tenantId }) }],
    options: (l) => ({ attempts: l.webhookAttempts, backoff: { type: 'custom' }, ...KEEP }),
  }),
  reconcile: defineUnit({
    topic: 'reconcile',
    payload: z.strictObject({ reconciliationId: z.uuid() }),
    queue: QUEUE_NAMES.reconcile,
    jobNames: ['reconcile'],
    jobs: (p, row) => [
      {
        name: 'reconcile',
        data: ReconcileJobData.parse({ reconciliationId: p.reconciliationId, outboxKey: row.key, tenantId: row.tenantId }),
      },
    ],
    options: () => ({ attempts: 5, backoff: { type: 'custom' }, ...KEEP }),
  }),
  // The MLLP listener and POST /v1/ehr-notifications write this row (with the message) from
  // @kap/store's storeInboundMessage, which cannot import this package: keep the topic and payload in step.
  inboundMessage: defineUnit({
    topic: 'inbound-message',
    payload: z.strictObject({ inboundMessageId: z.number().int().positive() }),
    queue: QUEUE_NAMES.inbound,
    jobNames: ['inbound-message'],
    jobs: (p, row) => [
      {
        name: 'inbound-message',
        data: InboundMessageJobData.parse({ inboundMessageId: p.inboundMessageId, outboxKey: row.key, tenantId: row.tenantId }),
      },
    ],
    // Waits out an EHR outage like the sync: id-only notifications read the EHR.
    options: (l) => ({ attempts: l.syncAttempts, backoff: { type: 'custom' }, ...KEEP }),
  }),
  patientDemographics: defineUnit({
    topic: 'ehr-patient-update',
    payload: z.strictObject({ patientId: z.string().min(1) }),
    queue: QUEUE_NAMES.inbound,
    jobNames: ['patient-demographics'],
    jobs: (p, row) => [
      {
        name: 'patient-demographics',
        data: PatientUpdateJobData.parse({ patientId: p.patientId, outboxKey: row.key, tenantId: row.tenantId }),
      },
    ],
    options: (l) => ({ attempts: l.syncAttempts, backoff: { type: 'custom' }, ...KEEP }),
  }),
  // Written with every change a course's note shows, in the change's transaction; the job
  // rebuilds from the stored course, so open rows of one course are done by one rebuild.
  courseNote: defineUnit({
    topic: 'course-note',
    payload: z.strictObject({ courseId: z.string().min(1) }),
    queue: QUEUE_NAMES.courseNotes,
    jobNames: ['course-note'],
    jobs: (p, row) => [
      { name: 'course-note', data: CourseNoteJobData.parse({ courseId: p.courseId, outboxKey: row.key, tenantId: row.tenantId }) },
    ],
    options: () => ({ attempts: 10, backoff: { type: 'custom' }, ...KEEP }),
  }),
  // One row per resource version (a vital sign, a PHQ-9/GAD-7 total, a note); the patient is the row's.
  // Job data carries no patient id: a dead v2 message is that message's, not the patient's FHIR sync.
  hl7Out: defineUnit({
    topic: 'hl7-out',
    payload: z.strictObject({
      resourceType: z.enum(['Observation', 'DocumentReference']),
      resourceId: z.string().min(1),
      version: z.string().min(1),
      /** MSH-10, derived from the version: the same on every retry, so the engine can drop a repeat. */
      controlId: z.string().min(1).max(20),
      messageType: z.enum(['ORU^R01', 'MDM^T02']),
    }),
    queue: QUEUE_NAMES.hl7Out,
    jobNames: ['hl7-out'],
    jobs: (_p, row) => [{ name: 'hl7-out', data: Hl7OutJobData.parse({ outboxKey: row.key, tenantId: row.tenantId }) }],
    // Waits out an engine outage as the EHR sync waits out the EHR's.
    options: (l) => ({ attempts: l.syncAttempts, backoff: { type: 'custom' }, ...KEEP }),
  }),
} as const;

type AnyUnit = WorkUnit<unknown>;

/** Every declared unit, as the relay and the worker walk them. */
export const ALL_UNITS: readonly AnyUnit[] = Object.values(WORK) as readonly AnyUnit[];

const BY_TOPIC: ReadonlyMap<string, AnyUnit> = new Map(ALL_UNITS.map((u) => [u.topic, u]));

/** The unit an outbox row's topic names, or undefined for a topic no unit declares. */
export function unitForTopic(topic: string): AnyUnit | undefined {
  return BY_TOPIC.get(topic);
}

/**
 * A new job id, for every dispatch: ids are never derived from the row's serial, which a
 * fresh or restored database reuses, so no job already in Redis can be taken for this one.
 * BullMQ reserves ':' and integer ids.
 */
export function newJobId(unit: AnyUnit): string {
  // Short: the id is stored in the job's key, its queue's sorted set and its events, per
  // pending job (a follow-up holds two for weeks). 128 random bits (a UUID has 122), in
  // base64url, which has no ':'. The prefix is the topic's initials (fus = follow-up-schedule).
  return `${unit.topic
    .split('-')
    .map((w) => w[0])
    .join('')}-${randomBytes(16).toString('base64url')}`;
}
