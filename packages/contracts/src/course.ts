import { z } from 'zod';
import { DOSE_LEVELS, STOP_REASONS, parseDurationMs } from '@kap/domain';
import { DateOnly, Id, PastInstant, Text } from './primitives';
import { systolicAboveDiastolic, vitalsShape } from './vitals';

/** The neuroplasticity window follow-ups must fall in (docs/domain.md#4-integration): none later than 14 days after the session. */
export const MAX_FOLLOW_UP_OFFSET_MS = 14 * 86_400_000;

/** A follow-up offset: an ISO 8601 duration of weeks, days, hours, minutes or seconds, longer than zero, at most 14 days. */
const Offset = z
  .string()
  .max(64)
  .superRefine((value, ctx) => {
    try {
      if (parseDurationMs(value) > MAX_FOLLOW_UP_OFFSET_MS) ctx.addIssue({ code: 'custom', message: 'must be at most 14 days (P14D)' });
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
    }
  });

/** Offsets in the order the follow-ups fall due: a repeated or earlier offset is a typo, not a schedule. */
function ascending(offsets: readonly string[], ctx: z.RefinementCtx): void {
  let previous = 0;
  offsets.forEach((offset, i) => {
    let ms: number;
    try {
      ms = parseDurationMs(offset);
    } catch {
      return;
    }
    if (ms <= previous)
      ctx.addIssue({ code: 'custom', path: [i], message: 'must be longer than the offset before it (no repeats, ascending)' });
    previous = Math.max(previous, ms);
  });
}

export const CourseRequest = z
  .strictObject({
    screeningId: Id,
    startDate: DateOnly.optional().meta({ description: 'First day of the course; defaults to today' }),
    followUpOffsets: z
      .array(Offset)
      .min(1)
      .max(10)
      .superRefine(ascending)
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

/**
 * How long before its start and after its end a session's vital signs may be taken:
 * baseline readings precede the dose and monitoring continues until discharge.
 */
export const SESSION_VITALS_MARGIN_MS = 2 * 3600_000;

function vitalsWithinSession(s: { start: string; end: string; vitals: ReadonlyArray<{ at: string }> }, ctx: z.RefinementCtx): void {
  const from = Date.parse(s.start) - SESSION_VITALS_MARGIN_MS;
  const to = Date.parse(s.end) + SESSION_VITALS_MARGIN_MS;
  s.vitals.forEach((v, i) => {
    const at = Date.parse(v.at);
    if (at < from || at > to) {
      ctx.addIssue({
        code: 'custom',
        path: ['vitals', i, 'at'],
        message: 'must be within the session (from 2 hours before start to 2 hours after end)',
      });
    }
  });
}

export const DosingSessionRequest = z
  .strictObject({
    sessionNumber: z.union([z.literal(1), z.literal(2)]),
    doseLevel: z.enum(DOSE_LEVELS),
    route: z.enum(ROUTES),
    dose: z.strictObject({ value: z.number().positive().max(1000), unit: z.enum(['mg', 'mg/kg']) }),
    start: PastInstant,
    end: PastInstant,
    vitals: z
      .array(z.strictObject({ at: PastInstant, ...vitalsShape }).superRefine(systolicAboveDiastolic))
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
    doseDeviationReason: Text(1000).optional().meta({
      description: "Why the dose level differs from the model's (session 1 low, session 2 moderate); without it such a session is 409",
    }),
  })
  .refine((s) => Date.parse(s.end) > Date.parse(s.start), { message: 'end must be after start', path: ['end'] })
  .superRefine(vitalsWithinSession)
  .meta({ id: 'DosingSessionRequest' });
export type DosingSessionRequest = z.infer<typeof DosingSessionRequest>;

export const FollowUpCompleteRequest = z
  .strictObject({ completedAt: PastInstant, note: Text(4000).optional() })
  .meta({ id: 'FollowUpCompleteRequest' });
export type FollowUpCompleteRequest = z.infer<typeof FollowUpCompleteRequest>;

export const GoalsOfCareRequest = z
  .strictObject({
    discussedAt: PastInstant,
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
    preferences: z.strictObject({ placeOfCare: Text(500).optional(), codeStatus: Text(500).optional() }).optional(),
    decisions: z.array(Text(2000)).max(50).optional(),
  })
  .meta({ id: 'GoalsOfCareRequest' });
export type GoalsOfCareRequest = z.infer<typeof GoalsOfCareRequest>;

export const StopRequest = z.strictObject({ reason: z.enum(STOP_REASONS) }).meta({ id: 'StopRequest' });
export type StopRequest = z.infer<typeof StopRequest>;
