import type { HumanName, Patient } from '@medplum/fhirtypes';
import type { PatientRef } from '@kap/contracts';
import { resourceId } from './resource-ids';
import { validateResource } from './validate';
import { patientKey } from './business-keys';

/**
 * The Patient as the hospital identifies them (docs/api.md#conventions: the adapter finds or creates the
 * EHR's Patient by identifier and never duplicates it).
 * @see https://hl7.org/fhir/R4/patient.html
 */

/** The Patient id the adapter uses for `ref` in a tenant, so every resource references the same one. */
export function patientId(ref: Pick<PatientRef, 'system' | 'value'>, tenantId: string): string {
  return resourceId(patientKey(ref, tenantId));
}

/** The name as one line of text, for `Reference.display`. */
export function patientDisplayName(ref: PatientRef): string | undefined {
  if (ref.name === undefined) return undefined;
  if (typeof ref.name === 'string') return ref.name;
  const text = [...(ref.name.given ?? []), ref.name.family ?? ''].join(' ').trim();
  return text || undefined;
}

function humanName(name: NonNullable<PatientRef['name']>): HumanName | undefined {
  if (typeof name === 'string') return { text: name };
  const out: HumanName = {
    ...(name.family ? { family: name.family } : {}),
    ...(name.given?.length ? { given: [...name.given] } : {}),
  };
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The Patient for a hospital identifier in a tenant. Its
 * only identifier is the hospital's: that is what the EHR sync matches on (conditional
 * create), so no adapter identifier is added.
 */
export function buildPatient(ref: PatientRef, tenantId: string): Patient {
  const name = ref.name === undefined ? undefined : humanName(ref.name);
  const patient: Patient = {
    resourceType: 'Patient',
    id: patientId(ref, tenantId),
    identifier: [{ system: ref.system, value: ref.value }],
    ...(name ? { name: [name] } : {}),
    ...(ref.birthDate ? { birthDate: ref.birthDate } : {}),
    ...(ref.gender ? { gender: ref.gender } : {}),
  };
  return validateResource(patient);
}
