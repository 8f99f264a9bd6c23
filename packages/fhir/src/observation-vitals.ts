import type {
  Encounter,
  MedicationAdministration,
  Observation,
  ObservationComponent,
  Patient,
  Procedure,
  QuestionnaireResponse,
  Reference,
} from '@medplum/fhirtypes';
import type { Vitals } from '@kap/contracts';
import { HL7, LOINC, UCUM, type CodeDef, type UnitDef } from './codes';
import { concept, quantity } from './datatypes';
import { resourceId, resourceIdentifier } from './resource-ids';
import { screeningKey } from './business-keys';
import type { ScreeningContext } from './screening-context';
import { validateResource, VITAL_SIGNS_PROFILES } from './validate';

/**
 * Vital-sign Observations of a screening or of a dosing session's serial readings, each claiming and conforming to its
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

/**
 * What the vital-sign Observations of one measurement share, wherever they were taken (a
 * screening, or one reading of a dosing session): the screening and session builders
 * differ only in these fields, so both go through `buildVitalSigns`.
 */
export interface VitalSignsContext {
  /** The business key of the Observation at `path` (e.g. `blood-pressure`). */
  readonly key: (path: string) => string;
  readonly subject: Reference<Patient>;
  /** When the vital signs were measured. */
  readonly effective: string;
  /** When the adapter recorded them. */
  readonly issued: string;
  readonly encounter?: Reference<Encounter>;
  /** The event the measurement was part of, e.g. the dosing session's Procedure. */
  readonly partOf?: readonly Reference<Procedure | MedicationAdministration>[];
  /** What the values were extracted from, e.g. the screening's QuestionnaireResponse. */
  readonly derivedFrom?: readonly Reference<QuestionnaireResponse>[];
}

/** The business key of the blood-pressure Observation of a screening. */

function screeningVitalsContext(ctx: ScreeningContext): VitalSignsContext {
  return {
    key: (path) => screeningKey(ctx.screeningId, `observation/${path}`),
    subject: ctx.subject,
    effective: ctx.effective,
    issued: ctx.issued,
    derivedFrom: [ctx.response],
  };
}

function vitalBase(ctx: VitalSignsContext, path: string, profile: string, codes: readonly CodeDef[]): Observation {
  const key = ctx.key(path);
  return {
    resourceType: 'Observation',
    id: resourceId(key),
    meta: { profile: [profile] },
    identifier: [resourceIdentifier(key)],
    ...(ctx.partOf?.length ? { partOf: [...ctx.partOf] } : {}),
    status: 'final',
    category: [concept([HL7.vitalSignsCategory])],
    code: concept(codes),
    subject: ctx.subject,
    ...(ctx.encounter ? { encounter: ctx.encounter } : {}),
    effectiveDateTime: ctx.effective,
    issued: ctx.issued,
    ...(ctx.derivedFrom?.length ? { derivedFrom: [...ctx.derivedFrom] } : {}),
  };
}

const component = (code: CodeDef, value: number): ObservationComponent => ({
  code: concept([code]),
  valueQuantity: quantity(value, UCUM.mmHg),
});

function bloodPressure(ctx: VitalSignsContext, vitals: Pick<Vitals, 'systolic' | 'diastolic'>): Observation {
  const obs: Observation = {
    ...vitalBase(ctx, 'blood-pressure', VITAL_SIGNS_PROFILES.bloodPressure, [LOINC.bloodPressurePanel]),
    component: [component(LOINC.systolic, vitals.systolic), component(LOINC.diastolic, vitals.diastolic)],
  };
  return validateResource(obs);
}

/**
 * The vital-sign Observations of one measurement: blood pressure (always first), then the
 * single-value vital signs that were measured, each under `ctx.key(<path>)`.
 */
export function buildVitalSigns(ctx: VitalSignsContext, vitals: Vitals): Observation[] {
  const single = SINGLE_VITALS.flatMap((def) => {
    const value = vitals[def.field];
    if (value === undefined) return [];
    const obs: Observation = { ...vitalBase(ctx, def.path, def.profile, def.codes), valueQuantity: quantity(value, def.unit) };
    return [validateResource(obs)];
  });
  return [bloodPressure(ctx, vitals), ...single];
}

/** One blood-pressure panel (85354-9) with systolic and diastolic components (R4 `bp`). */
export function buildBloodPressureObservation(ctx: ScreeningContext, vitals: Pick<Vitals, 'systolic' | 'diastolic'>): Observation {
  return bloodPressure(screeningVitalsContext(ctx), vitals);
}

/** The vital-sign Observations of a screening: blood pressure always, the others when measured. */
export function buildVitalSignObservations(ctx: ScreeningContext, vitals: Vitals): Observation[] {
  return buildVitalSigns(screeningVitalsContext(ctx), vitals);
}
