import { z } from 'zod';
import { AlertView } from './alerts';
import { CourseView } from './responses';

/**
 * What `GET /v1/courses/{id}` adds to the course status for the course page (additive
 * fields: a client that knows only `Course` keeps working).
 */
const VitalPoint = z.object({
  at: z.string(),
  systolic: z.number().optional(),
  diastolic: z.number().optional(),
  heartRate: z.number().optional(),
  spo2: z.number().optional(),
});

export const CourseDetailView = CourseView.extend({
  links: z.object({
    page: z.string().meta({ description: "The clinicians' course page" }),
    outcomes: z.string().meta({ description: 'PHQ-9 and GAD-7 totals over the course' }),
  }),
  patient: z.object({ name: z.string().nullable(), birthDate: z.string().nullable(), identifier: z.string().nullable() }).nullable(),
  stoppedAt: z.string().nullable(),
  timeZone: z.string().meta({ description: "The clinic's IANA time zone: the page shows every time in it, whatever the browser's zone" }),
  startsAt: z.string().meta({ description: "The first instant of startDate in the clinic's time zone" }),
  alertThreshold: z
    .object({ systolicAbove: z.number(), diastolicAbove: z.number() })
    .meta({ description: 'The in-session blood-pressure alert threshold' }),
  severityBands: z.record(z.string(), z.array(z.object({ band: z.string(), min: z.number(), max: z.number(), label: z.string() }))),
  alerts: z
    .array(
      z.object({
        code: z.string(),
        text: z.string(),
        at: z.string(),
        flag: z.string(),
        category: z.string().nullable(),
        alert: AlertView.nullable().meta({ description: 'The alert loop of this Flag: open, acknowledged by whom, escalated how often' }),
      }),
    )
    .meta({ description: 'Active Flags of the patient, newest first: `phq9-self-harm` (safety) and `blood-pressure-alert`' }),
  screening: z
    .object({
      screeningId: z.string(),
      performedAt: z.string(),
      outcome: z.string(),
      reasons: z.array(z.object({ code: z.string(), severity: z.string(), text: z.string() })),
      review: z.object({ decision: z.string(), reviewer: z.string(), note: z.string().optional(), at: z.string() }).nullable(),
    })
    .nullable(),
  activities: z.array(z.object({ activity: z.string(), title: z.string(), status: z.string(), outcomes: z.array(z.string()) })),
  sessionDetails: z.array(
    z.object({
      sessionNumber: z.number().int(),
      doseLevel: z.string(),
      start: z.string(),
      end: z.string(),
      route: z.string().nullable(),
      dose: z.object({ value: z.number(), unit: z.string() }).nullable(),
      vitals: z.array(VitalPoint),
      alert: z.boolean().meta({ description: 'A reading was above the in-session alert threshold' }),
    }),
  ),
  goalsOfCareDiscussions: z.array(
    z.object({
      discussedAt: z.string(),
      participants: z.array(z.string()),
      notes: z.array(z.string()),
      goals: z.array(z.object({ description: z.string(), priority: z.string().nullable() })),
      preferences: z.array(z.object({ label: z.string(), value: z.string() })),
    }),
  ),
  measures: z.array(
    z.object({
      measureId: z.string(),
      measuredAt: z.string(),
      timepoint: z.string().nullable(),
      timepointText: z.string(),
      phq9Total: z.number().int().nullable(),
      gad7Total: z.number().int().nullable(),
      selfHarm: z.boolean(),
    }),
  ),
}).meta({ id: 'CourseDetail' });
