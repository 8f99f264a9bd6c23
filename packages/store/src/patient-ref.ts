import type { Resource } from '@medplum/fhirtypes';

/**
 * The elements that point a resource at its patient, in the order tried: `subject`
 * (Observation, CarePlan, QuestionnaireResponse, ...), `patient` (Consent, AllergyIntolerance,
 * ...), `for` (Task) and `beneficiary` (Coverage).
 */
const PATIENT_ELEMENTS = ['subject', 'patient', 'for', 'beneficiary'] as const;

/** Matches `Patient/<id>`, also inside an absolute URL or with a `_history` suffix. */
const PATIENT_REFERENCE = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

/**
 * The id of the patient a resource belongs to: a Patient's own id, else the first
 * `Patient/<id>` reference among its subject-like elements, else undefined.
 */
export function patientIdOf(resource: Resource): string | undefined {
  if (resource.resourceType === 'Patient') return resource.id;
  const record = resource as unknown as Record<string, unknown>;
  for (const element of PATIENT_ELEMENTS) {
    const value = record[element];
    if (typeof value !== 'object' || value === null) continue;
    const reference = (value as { reference?: unknown }).reference;
    if (typeof reference !== 'string') continue;
    const match = PATIENT_REFERENCE.exec(reference);
    if (match?.[1]) return match[1];
  }
  return undefined;
}
