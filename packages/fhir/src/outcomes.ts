import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/**
 * Errors as FHIR OperationOutcomes (http://hl7.org/fhir/R4/operationoutcome.html).
 * Code throws an OutcomeError; the HTTP layer maps `status` to the response.
 */

export type IssueCode = OperationOutcomeIssue['code'];

export interface IssueInput {
  readonly code: IssueCode;
  readonly diagnostics: string;
  /** FHIRPath-style location of the field at fault, e.g. `vitals.systolic`. */
  readonly expression?: string;
  readonly severity?: OperationOutcomeIssue['severity'];
}

export function operationOutcome(issues: readonly IssueInput[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map((i) => ({
      severity: i.severity ?? 'error',
      code: i.code,
      diagnostics: i.diagnostics,
      ...(i.expression ? { expression: [i.expression] } : {}),
    })),
  };
}

export class OutcomeError extends Error {
  constructor(
    readonly status: number,
    readonly outcome: OperationOutcome,
    /** Response headers the status needs, such as `Retry-After` on a 503. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(outcome.issue?.map((i) => i.diagnostics).join('; ') ?? `HTTP ${status}`);
    this.name = 'OutcomeError';
  }
}

export const badRequest = (diagnostics: string, expression?: string): OutcomeError =>
  new OutcomeError(400, operationOutcome([{ code: 'invalid', diagnostics, expression }]));

export const notFound = (what: string): OutcomeError =>
  new OutcomeError(404, operationOutcome([{ code: 'not-found', diagnostics: `${what} not found` }]));

/** The workflow forbids the action now (docs/api.md#errors: 409). */
export const conflict = (diagnostics: string, code: IssueCode = 'business-rule', expression?: string): OutcomeError =>
  new OutcomeError(409, operationOutcome([{ code, diagnostics, expression }]));

export const unavailable = (diagnostics: string, retryAfterSeconds = 5): OutcomeError =>
  new OutcomeError(503, operationOutcome([{ code: 'transient', diagnostics }]), {
    'Retry-After': String(retryAfterSeconds),
  });

/** A validation issue's location: object keys joined by dots, array indexes in brackets. */
export function pathToExpression(path: readonly PropertyKey[], root?: string): string {
  let out = root ?? '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/** The shape of a zod issue this module needs, so the package does not depend on zod. */
export interface SchemaIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly code?: string;
  readonly keys?: readonly string[];
}

/**
 * One OperationOutcome issue per schema issue. An unknown key is reported at the key
 * itself, so `expression` names the field the caller must remove.
 */
export function invalidInput(issues: readonly SchemaIssue[], root?: string): OutcomeError {
  const out: IssueInput[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys' && issue.keys?.length) {
      for (const key of issue.keys) {
        const expression = pathToExpression([...issue.path, key], root);
        out.push({ code: 'structure', diagnostics: `Unknown field "${expression}"`, expression });
      }
      continue;
    }
    const expression = pathToExpression(issue.path, root);
    out.push({
      code: issue.code === 'invalid_type' && /received undefined/.test(issue.message) ? 'required' : 'invalid',
      diagnostics: expression ? `${expression}: ${issue.message}` : issue.message,
      expression: expression || undefined,
    });
  }
  return new OutcomeError(400, operationOutcome(out));
}
