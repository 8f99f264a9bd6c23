import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/**
 * Medplum's `getStatus` derives an HTTP status from `OperationOutcome.id`; 'business-rule' is
 * the id it maps to 422. Using it keeps the status right inside batch/transaction responses,
 * which Medplum builds itself.
 */
const UNPROCESSABLE_ID = 'business-rule';

/**
 * 422 Unprocessable Entity: the resource parsed but violates the R4 StructureDefinitions or a
 * server rule such as referential integrity.
 * @see http://hl7.org/fhir/R4/http.html#update (status codes)
 */
export function unprocessable(issue: OperationOutcomeIssue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', id: UNPROCESSABLE_ID, issue };
}

/** An outcome with a single error issue; the HTTP layer supplies the status. */
export function errorOutcome(code: OperationOutcomeIssue['code'], text: string, expression?: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, details: { text }, ...(expression ? { expression: [expression] } : {}) }],
  };
}

/**
 * An error whose HTTP status is fixed by the HTTP layer rather than derived from the outcome:
 * 401, 413, 415, injected faults. The express error handler sends `outcome` with `status`.
 */
export class HttpError extends OperationOutcomeError {
  constructor(
    readonly status: number,
    outcome: OperationOutcome,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(outcome);
  }
}
