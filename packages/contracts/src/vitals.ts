import { z } from 'zod';

/**
 * Vital signs as measured. Ranges are physiological plausibility limits, there to catch a
 * wrong unit or a typo (kPa for mmHg, pounds for kilograms), not clinical thresholds.
 */
export const vitalsShape = {
  systolic: z.number().int().min(40).max(300).meta({ description: 'Systolic blood pressure, mm[Hg]' }),
  diastolic: z.number().int().min(20).max(200).meta({ description: 'Diastolic blood pressure, mm[Hg]' }),
  heartRate: z.number().int().min(20).max(250).meta({ description: 'Heart rate, /min' }),
  spo2: z.number().min(50).max(100).optional().meta({ description: 'Oxygen saturation by pulse oximetry, %' }),
  respiratoryRate: z.number().int().min(4).max(60).optional().meta({ description: 'Respiratory rate, /min' }),
  weightKg: z.number().min(1).max(400).optional().meta({ description: 'Body weight, kg' }),
};

/** A blood pressure whose systolic is not above its diastolic is a swapped or mistyped reading. */
export function systolicAboveDiastolic(v: { systolic: number; diastolic: number }, ctx: z.RefinementCtx): void {
  if (v.systolic <= v.diastolic) ctx.addIssue({ code: 'custom', path: ['systolic'], message: 'systolic must be greater than diastolic' });
}

export const Vitals = z.strictObject(vitalsShape).superRefine(systolicAboveDiastolic).meta({ id: 'Vitals' });
export type Vitals = z.infer<typeof Vitals>;
