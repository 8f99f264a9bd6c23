import { SYNC_STATUSES } from '@kap/domain';
import { z } from 'zod';
import { Reason, ScreeningOutcomeSchema } from './screening';

/** A FHIR resource, described loosely: its full shape is the FHIR R4 specification's. */
const fhirResource = (resourceType: string, description: string) =>
  z.looseObject({ resourceType: z.literal(resourceType) }).meta({ id: resourceType, description });

export const BundleSchema = fhirResource('Bundle', 'A FHIR R4 Bundle, http://hl7.org/fhir/R4/bundle.html');
export const OperationOutcomeSchema = fhirResource(
  'OperationOutcome',
  'Every error: a FHIR R4 OperationOutcome whose issues name the field in `expression`, http://hl7.org/fhir/R4/operationoutcome.html',
);
export const AnyResourceSchema = z
  .looseObject({ resourceType: z.string(), id: z.string().optional() })
  .meta({ id: 'Resource', description: 'Any FHIR R4 resource' });

export const ScreeningResponse = z
  .object({
    screeningId: z.string(),
    outcome: ScreeningOutcomeSchema,
    reasons: z.array(Reason),
    resources: BundleSchema,
  })
  .meta({ id: 'ScreeningResponse' });

export const ReviewResponse = z
  .object({
    screeningId: z.string(),
    outcome: ScreeningOutcomeSchema,
    decision: z.enum(['approved', 'declined']),
    resources: BundleSchema,
  })
  .meta({ id: 'ReviewResponse' });

export const CourseCreatedResponse = z
  .object({ courseId: z.string(), carePlanId: z.string(), resources: BundleSchema })
  .meta({ id: 'CourseCreatedResponse' });

export const FollowUpView = z
  .object({
    id: z.string(),
    sessionNumber: z.number().int(),
    sequence: z.number().int(),
    dueBy: z.string(),
    status: z.enum(['scheduled', 'completed', 'escalated', 'cancelled']),
    completedAt: z.string().nullable().optional(),
  })
  .meta({ id: 'FollowUp' });

export const SyncStateView = z
  .object({
    reference: z.string().meta({ description: '`Type/id` of the resource in this adapter' }),
    version: z.string(),
    status: z.enum(SYNC_STATUSES),
    ehrReference: z.string().nullable(),
    lastError: z.string().nullable(),
    sentNote: z.string().optional().meta({
      description:
        'How the synced version was sent when not exactly as stored: a profile claim the EHR refuses, left out (its data unchanged)',
    }),
  })
  .meta({ id: 'SyncState' });

export const CourseView = z
  .object({
    courseId: z.string(),
    screeningId: z.string(),
    patientId: z.string(),
    carePlanId: z.string(),
    startDate: z.string(),
    followUpOffsets: z.array(z.string()).nullable().meta({ description: "This course's follow-up offsets, or null for the site's" }),
    status: z.enum(['active', 'stopped']),
    phase: z.string(),
    stoppedReason: z.string().nullable(),
    sessions: z.array(
      z.object({ sessionId: z.string(), sessionNumber: z.number().int(), doseLevel: z.string(), start: z.string(), end: z.string() }),
    ),
    followUps: z.array(FollowUpView),
    goals: z.array(z.object({ reference: z.string(), description: z.string() })),
    sync: z.array(SyncStateView),
  })
  .meta({ id: 'Course' });

export const HealthResponse = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });
export const ReadyResponse = z
  .object({
    status: z.enum(['ready', 'not-ready']),
    checks: z.record(z.string(), z.object({ status: z.enum(['up', 'down']), detail: z.string().optional() })),
  })
  .meta({ id: 'Ready' });

const FollowUpSummary = z.object({
  id: z.string(),
  dueBy: z.string(),
  status: z.enum(['scheduled', 'completed', 'escalated', 'cancelled']),
});

export const DosingSessionResponse = z
  .object({
    sessionId: z.string(),
    resources: BundleSchema,
    followUps: z.array(FollowUpSummary.extend({ taskId: z.string().optional() })),
  })
  .meta({ id: 'DosingSessionResponse' });

export const FollowUpCompletedResponse = z
  .object({ followUp: FollowUpSummary.extend({ completedAt: z.string().nullable() }), resources: BundleSchema })
  .meta({ id: 'FollowUpCompletedResponse' });

export const GoalsOfCareResponse = z.object({ carePlanId: z.string(), resources: BundleSchema }).meta({ id: 'GoalsOfCareResponse' });

export const StopResponse = z
  .object({
    courseId: z.string(),
    status: z.literal('stopped'),
    reason: z.enum(['completed', 'withdrawn', 'deceased', 'discharged']),
    cancelledFollowUps: z.array(FollowUpSummary),
    resources: BundleSchema,
  })
  .meta({ id: 'StopResponse' });

export const DeadLetterView = z
  .object({
    id: z.number().int(),
    topic: z.string(),
    patientId: z.string().nullable(),
    createdAt: z.string(),
    deadAt: z.string().nullable(),
    attempts: z
      .number()
      .int()
      .meta({ description: "Failed attempts of the row's jobs, counted by the worker; a re-drive starts again from 0" }),
    lastError: z.string().nullable(),
  })
  .meta({ id: 'DeadLetter' });

export const DeadLettersResponse = z.object({ deadLetters: z.array(DeadLetterView) }).meta({ id: 'DeadLetters' });
