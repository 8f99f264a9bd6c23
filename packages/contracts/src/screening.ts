import { z } from 'zod';
import { CONTRAINDICATION_KEYS, CONTRAINDICATION_TEXT, SCREENING_OUTCOMES, type ContraindicationKey } from '@kap/domain';
import { PatientRef } from './patient';
import { PastInstant, Text } from './primitives';
import { Vitals } from './vitals';

const contraindicationShape = Object.fromEntries(
  CONTRAINDICATION_KEYS.map((key) => [key, z.boolean().optional().meta({ description: CONTRAINDICATION_TEXT[key] })]),
) as Record<ContraindicationKey, z.ZodOptional<z.ZodBoolean>>;

/** Answers to the contraindication items; a missing key counts as `false`, an unknown key is an error. */
export const Contraindications = z.strictObject(contraindicationShape).meta({ id: 'Contraindications' });
export type Contraindications = z.infer<typeof Contraindications>;

const itemScore = z.number().int().min(0).max(3);

export const Measures = z
  .strictObject({
    phq9: z.array(itemScore).length(9).optional().meta({ description: 'PHQ-9 item scores in item order, each 0-3' }),
    gad7: z.array(itemScore).length(7).optional().meta({ description: 'GAD-7 item scores in item order, each 0-3' }),
  })
  .meta({ id: 'Measures' });
export type Measures = z.infer<typeof Measures>;

export const ConsentInput = z
  .strictObject({
    informed: z.boolean().meta({ description: 'Informed consent to KAP was given' }),
    signedAt: PastInstant.optional(),
  })
  .meta({ id: 'ConsentInput' });
export type ConsentInput = z.infer<typeof ConsentInput>;

export const ScreeningRequest = z
  .strictObject({
    patient: PatientRef,
    performedAt: PastInstant,
    contraindications: Contraindications,
    vitals: Vitals,
    measures: Measures.optional(),
    consent: ConsentInput.optional(),
  })
  .meta({ id: 'ScreeningRequest' });
export type ScreeningRequest = z.infer<typeof ScreeningRequest>;

export const ReviewRequest = z
  .strictObject({
    decision: z.enum(['approved', 'declined']),
    reviewer: Text(200).meta({ description: 'The reviewing clinician, as a name or an identifier' }),
    note: Text(4000).optional(),
  })
  .meta({ id: 'ReviewRequest' });
export type ReviewRequest = z.infer<typeof ReviewRequest>;

export const Reason = z
  .object({
    code: z.string().meta({ description: 'The contraindication key, `blood-pressure`, or `phq9-self-harm`' }),
    severity: z.enum(['absolute', 'caution']),
    text: z.string(),
  })
  .meta({ id: 'Reason' });

export const ScreeningOutcomeSchema = z.enum(SCREENING_OUTCOMES).meta({ id: 'ScreeningOutcome' });
