import type { Observation, ObservationComponent } from '@medplum/fhirtypes';
import type { Vitals } from '@kap/contracts';
import { HL7, LOINC, UCUM, type CodeDef, type UnitDef } from './codes';
import { concept, quantity } from './datatypes';
import { resourceId, resourceIdentifier } from './identity';
import { screeningKey, type ScreeningContext } from './screening-context';
import { validateResource, VITAL_SIGNS_PROFILES } from './validate';

/**
 * Vital-sign Observations extracted from a screening, each claiming and conforming to its
 * R4 vital-signs profile (LOINC code, UCUM unit, category vital-signs).
 * @see https://hl7.org/fhir/R4/observation-vitalsigns.html
 */

type SingleVital = 'heartRate' | 'respiratoryRate' | 'spo2' | 'weightKg';

interface SingleVitalDef {
  readonly field: SingleVital;
  readonly path: string;
  readonly profile: string;
  /** The oxygensat profile requires 2708-6; 59408-5 adds that it was pulse oximetry. */
  readonly codes: readonly CodeDef[];
  readonly unit: UnitDef;
}

/** The single-value vital signs, in the order the Bundle lists them. */
export const SINGLE_VITALS: readonly SingleVitalDef[] = [
  { field: 'heartRate', path: 'heart-rate', profile: VITAL_SIGNS_PROFILES.heartRate, codes: [LOINC.heartRate], unit: UCUM.beatsPerMinute },
  {
    field: 'respiratoryRate',
    path: 'respiratory-rate',
    profile: VITAL_SIGNS_PROFILES.respiratoryRate,
    codes: [LOINC.respiratoryRate],
    unit: UCUM.breathsPerMinute,
  },
  {
    field: 'spo2',
    path: 'oxygen-saturation',
    profile: VITAL_SIGNS_PROFILES.oxygenSaturation,
    codes: [LOINC.oxygenSaturation, LOINC.oxygenSaturationPulseOx],
    unit: UCUM.percent,
  },
  { field: 'weightKg', path: 'body-weight', profile: VITAL_SIGNS_PROFILES.bodyWeight, codes: [LOINC.bodyWeight], unit: UCUM.kg },
];

/** The business key of the blood-pressure Observation of a screening. */
export const bloodPressureKey = (screeningId: string): string => screeningKey(screeningId, 'observation/blood-pressure');

function vitalBase(ctx: ScreeningContext, key: string, profile: string, codes: readonly CodeDef[]): Observation {
  return {
    resourceType: 'Observation',
    id: resourceId(key),
    meta: { profile: [profile] },
    identifier: [resourceIdentifier(key)],
    status: 'final',
    category: [concept([HL7.vitalSignsCategory])],
    code: concept(codes),
    subject: ctx.subject,
    effectiveDateTime: ctx.effective,
    issued: ctx.issued,
    derivedFrom: [ctx.response],
  };
}

const component = (code: CodeDef, value: number): ObservationComponent => ({
  code: concept([code]),
  valueQuantity: quantity(value, UCUM.mmHg),
});

/** One blood-pressure panel (85354-9) with systolic and diastolic components (R4 `bp`). */
export function buildBloodPressureObservation(ctx: ScreeningContext, vitals: Pick<Vitals, 'systolic' | 'diastolic'>): Observation {
  const obs: Observation = {
    ...vitalBase(ctx, bloodPressureKey(ctx.screeningId), VITAL_SIGNS_PROFILES.bloodPressure, [LOINC.bloodPressurePanel]),
    component: [component(LOINC.systolic, vitals.systolic), component(LOINC.diastolic, vitals.diastolic)],
  };
  return validateResource(obs);
}

/** The vital-sign Observations of a screening: blood pressure always, the others when measured. */
export function buildVitalSignObservations(ctx: ScreeningContext, vitals: Vitals): Observation[] {
  const single = SINGLE_VITALS.flatMap((def) => {
    const value = vitals[def.field];
    if (value === undefined) return [];
    const obs: Observation = {
      ...vitalBase(ctx, screeningKey(ctx.screeningId, `observation/${def.path}`), def.profile, def.codes),
      valueQuantity: quantity(value, def.unit),
    };
    return [validateResource(obs)];
  });
  return [buildBloodPressureObservation(ctx, vitals), ...single];
}
