import { z } from 'zod';
import { MEASURE_TIMEPOINTS, SEVERITY_BANDS } from '@kap/domain';
import { Instant } from './primitives';
import { BundleSchema } from './responses';
import { Measures } from './screening';

/** PHQ-9 and/or GAD-7 taken during or after a course; the screening's are the baseline. */
export const MeasureRequest = z
  .strictObject({
    measuredAt: Instant,
    phq9: Measures.shape.phq9,
    gad7: Measures.shape.gad7,
    timepoint: z.enum(MEASURE_TIMEPOINTS).optional().meta({ description: 'When in the course the measure was taken' }),
  })
  .refine((m) => m.phq9 !== undefined || m.gad7 !== undefined, { message: 'give phq9, gad7 or both', path: ['phq9'] })
  .meta({ id: 'MeasureRequest' });
export type MeasureRequest = z.infer<typeof MeasureRequest>;

export const SafetyAlert = z
  .object({
    code: z.literal('phq9-self-harm'),
    severity: z.literal('caution'),
    text: z.string(),
    flag: z.string().meta({ description: 'The safety Flag, `Flag/<id>`' }),
    communication: z.string().meta({ description: 'The urgent care-team Communication, `Communication/<id>`' }),
  })
  .meta({ id: 'SafetyAlert' });
export type SafetyAlert = z.infer<typeof SafetyAlert>;

const OutcomePoint = z
  .object({
    at: Instant,
    timepoint: z
      .enum(['baseline', ...MEASURE_TIMEPOINTS])
      .nullable()
      .meta({ description: '`baseline` for the screening; null when the measure named none' }),
    total: z.number().int(),
    severity: z.enum(SEVERITY_BANDS),
    observation: z.string().meta({ description: 'The total-score Observation, `Observation/<id>`' }),
  })
  .meta({ id: 'OutcomePoint' });

export const OutcomesResponse = z
  .object({
    phq9: z.array(OutcomePoint),
    gad7: z.array(OutcomePoint),
    change: z
      .object({ phq9: z.number().int().nullable(), gad7: z.number().int().nullable() })
      .meta({ description: 'Last total minus the baseline total; null without a baseline and a later measure' }),
  })
  .meta({ id: 'OutcomesResponse' });
export type OutcomesResponse = z.infer<typeof OutcomesResponse>;

export const MeasureResponse = z
  .object({
    measureId: z.string(),
    resources: BundleSchema,
    alerts: z.array(SafetyAlert).meta({ description: 'The `phq9-self-harm` alert when PHQ-9 item 9 is above 0; empty otherwise' }),
  })
  .meta({ id: 'MeasureResponse' });
