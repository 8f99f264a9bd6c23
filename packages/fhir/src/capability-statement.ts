import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import { validateResource } from './validate';

/** The resource types the adapter produces and serves for read and search. */
export const SERVED_RESOURCE_TYPES = [
  'Patient',
  'QuestionnaireResponse',
  'Observation',
  'Consent',
  'CarePlan',
  'Encounter',
  'Procedure',
  'MedicationAdministration',
  'AdverseEvent',
  'Goal',
  'Task',
  'Flag',
  'DetectedIssue',
  'Communication',
  'Provenance',
  /** The course note (course-note.ts), each version with the one it replaces. */
  'DocumentReference',
] as const;

const PATIENT_SEARCH = [
  { name: 'patient', type: 'reference' as const, documentation: 'Patient/<id> or <id>' },
  { name: 'subject', type: 'reference' as const, documentation: 'Same as patient' },
];
const COMMON_SEARCH = [
  { name: '_id', type: 'token' as const },
  { name: 'identifier', type: 'token' as const, documentation: 'system|value or value' },
];

function served(type: CapabilityStatementRestResource['type']): CapabilityStatementRestResource {
  return {
    type,
    interaction: [{ code: 'read' }, { code: 'vread' }, { code: 'search-type' }],
    versioning: 'versioned',
    readHistory: true,
    searchParam: type === 'Patient' ? COMMON_SEARCH : [...COMMON_SEARCH, ...PATIENT_SEARCH],
  };
}

/**
 * What this adapter's FHIR endpoint supports: read, vread and search of what it produced,
 * its definitional resources, and screenings submitted as QuestionnaireResponses.
 * @see https://hl7.org/fhir/R4/capabilitystatement.html
 */
export function buildCapabilityStatement(input: { baseUrl: string; date: string; version?: string }): CapabilityStatement {
  const resources: CapabilityStatementRestResource[] = SERVED_RESOURCE_TYPES.map((type) => {
    const entry = served(type);
    return type === 'QuestionnaireResponse' ? { ...entry, interaction: [...(entry.interaction ?? []), { code: 'create' }] } : entry;
  });
  resources.push(
    { type: 'Questionnaire', interaction: [{ code: 'read' }, { code: 'search-type' }], searchParam: [COMMON_SEARCH[0]!] },
    { type: 'PlanDefinition', interaction: [{ code: 'read' }, { code: 'search-type' }], searchParam: [COMMON_SEARCH[0]!] },
    { type: 'CodeSystem', interaction: [{ code: 'read' }, { code: 'search-type' }], searchParam: [COMMON_SEARCH[0]!] },
    // The audit trail: append-only, so no versions; R4 gives AuditEvent no `identifier`.
    {
      type: 'AuditEvent',
      interaction: [{ code: 'read' }, { code: 'search-type' }],
      searchParam: [COMMON_SEARCH[0]!, { name: 'patient', type: 'reference', documentation: 'Patient/<id> or <id>' }],
    },
  );
  const statement: CapabilityStatement = {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: input.date,
    publisher: 'KAP FHIR adapter',
    kind: 'instance',
    software: { name: 'kap-fhir-adapter', version: input.version ?? '0.1.0' },
    implementation: { description: 'KAP palliative-care FHIR adapter', url: input.baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        documentation: 'Resources this adapter produced from KAP screenings, courses and sessions. Errors are OperationOutcomes.',
        resource: resources,
      },
    ],
  };
  return validateResource(statement);
}
