import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';

/**
 * Stands in for packages/fhir/src/validate.ts when KAP_BENCH_STUB_VALIDATE=1 (see
 * bench/register.js): the same exports, no validation. Only the mapping benchmark's
 * baseline uses it, to show what validation costs.
 */
export const VITAL_SIGNS_PROFILES = {
  vitalSigns: 'http://hl7.org/fhir/StructureDefinition/vitalsigns',
  bloodPressure: 'http://hl7.org/fhir/StructureDefinition/bp',
  heartRate: 'http://hl7.org/fhir/StructureDefinition/heartrate',
  respiratoryRate: 'http://hl7.org/fhir/StructureDefinition/resprate',
  oxygenSaturation: 'http://hl7.org/fhir/StructureDefinition/oxygensat',
  bodyWeight: 'http://hl7.org/fhir/StructureDefinition/bodyweight',
} as const;

export function validationIssues(_resource: Resource): OperationOutcomeIssue[] {
  return [];
}

export function validateResource<T extends Resource>(resource: T): T {
  return resource;
}

export function medplumIssues(_resource: Resource): OperationOutcomeIssue[] {
  return [];
}
