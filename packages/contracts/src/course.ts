import { z } from 'zod';
import { DOSE_LEVELS, STOP_REASONS, parseDurationMs } from '@kap/domain';
import { DateOnly, Id, Instant, Text } from './primitives';
import { vitalsShape } from './vitals';

/** A follow-up offset: an ISO 8601 duration of weeks, days, hours, minutes or seconds, longer than zero, at most 30 days. */
const Offset = z.string().superRefine((value, ctx) => {
  try {
    if (parseDurationMs(value) > 30 * 86_400_000) ctx.addIssue({ code: 'custom', message: 'must be at most 30 days (P30D)' });
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
  }
});

export const CourseRequest = z
  .strictObject({
    screeningId: Id,
    startDate: DateOnly.optional().meta({ description: 'First day of the course; defaults to today' }),
    followUpOffsets: z
      .array(Offset)
      .min(1)
      .max(10)
      .optional()
      .meta({
        description:
          "This course's integration follow-ups after each dosing session, overriding the site's FOLLOW_UP_OFFSETS (e.g. a tighter schedule when time is short)",
        example: ['PT24H', 'PT72H', 'P7D'],
      }),
  })
  .meta({ id: 'CourseRequest' });
export type CourseRequest = z.infer<typeof CourseRequest>;

export const ROUTES = ['sublingual', 'intramuscular', 'intravenous'] as const;
export type Route = (typeof ROUTES)[number];

const rating = z.number().min(0).max(10);

export const DosingSessionRequest = z
  .strictObject({
    sessionNumber: z.union([z.literal(1), z.literal(2)]),
    doseLevel: z.enum(DOSE_LEVELS),
    route: z.enum(ROUTES),
    dose: z.strictObject({ value: z.number().positive().max(1000), unit: z.enum(['mg', 'mg/kg']) }),
    start: Instant,
    end: Instant,
    vitals: z
      .array(z.strictObject({ at: Instant, ...vitalsShape }))
      .min(1)
      .max(200)
      .meta({ description: 'Serial vital signs taken during the session' }),
    adverseEvents: z
      .array(z.strictObject({ description: Text(2000), severity: z.enum(['mild', 'moderate', 'severe']) }))
      .max(50)
      .optional(),
    experience: z
      .strictObject({ dissociation: rating.optional(), egoDissolution: rating.optional(), distress: rating.optional() })
      .optional()
      .meta({ description: 'How the patient experienced the session, each 0-10' }),
  })
  .refine((s) => Date.parse(s.end) > Date.parse(s.start), { message: 'end must be after start', path: ['end'] })
  .meta({ id: 'DosingSessionRequest' });
export type DosingSessionRequest = z.infer<typeof DosingSessionRequest>;

export const FollowUpCompleteRequest = z
  .strictObject({ completedAt: Instant, note: Text(4000).optional() })
  .meta({ id: 'FollowUpCompleteRequest' });
export type FollowUpCompleteRequest = z.infer<typeof FollowUpCompleteRequest>;

export const GoalsOfCareRequest = z
  .strictObject({
    discussedAt: Instant,
    participants: z.array(Text(200)).min(1).max(20),
    values: z.array(Text(2000)).max(50),
    goals: z
      .array(
        z.strictObject({
          description: Text(2000),
          priority: z.enum(['high-priority', 'medium-priority', 'low-priority']).optional(),
        }),
      )
      .min(1)
      .max(50),
    preferences: z
      .strictObject({ placeOfCare: Text(500).optional(), codeStatus: Text(500).optional() })
      .optional(),
    decisions: z.array(Text(2000)).max(50).optional(),
  })
  .meta({ id: 'GoalsOfCareRequest' });
export type GoalsOfCareRequest = z.infer<typeof GoalsOfCareRequest>;

export const StopRequest = z.strictObject({ reason: z.enum(STOP_REASONS) }).meta({ id: 'StopRequest' });
export type StopRequest = z.infer<typeof StopRequest>;
