import type { CapabilityStatement, CapabilityStatementRest } from '@medplum/fhirtypes';

/** A server CapabilityStatement around one `rest` entry, for tests of what a plan reads from it. */
export function serverStatement(rest: Omit<CapabilityStatementRest, 'mode'>): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-01-01',
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [{ mode: 'server', ...rest }],
  };
}
