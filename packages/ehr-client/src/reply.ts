import type { ExtractResource, OperationOutcome, ResourceType } from '@medplum/fhirtypes';

/**
 * Defensive reading of EHR replies. A hospital EHR, a proxy in front of it or a
 * misconfigured base URL can answer with anything (HTML maintenance pages, empty bodies,
 * JSON of another shape), so nothing is cast until its `resourceType` has been checked.
 * @see http://hl7.org/fhir/R4/http.html#mime-type
 */

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses a reply body; `undefined` for an empty body, `ParseFailure` for invalid JSON. */
export function parseBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return PARSE_FAILURE;
  }
}

export const PARSE_FAILURE: unique symbol = Symbol('unparseable reply');

/**
 * Narrows `value` to a resource of the given type, checking the `resourceType` tag and
 * nothing deeper: the EHR is the authority on its own resources, and a full validation
 * here would reject servers that add extensions or newer elements.
 */
export function asResource<K extends ResourceType>(value: unknown, type: K): ExtractResource<K> | undefined {
  return isRecord(value) && value['resourceType'] === type ? (value as unknown as ExtractResource<K>) : undefined;
}

/** The OperationOutcome in an error body, if that is what the server sent. */
export function asOperationOutcome(value: unknown): OperationOutcome | undefined {
  const outcome = asResource(value, 'OperationOutcome');
  return outcome && Array.isArray(outcome.issue) ? outcome : undefined;
}

/** A one-line summary of an OperationOutcome's issues, for error messages and logs. */
export function outcomeSummary(outcome: OperationOutcome | undefined): string {
  if (!outcome) return '';
  const parts = outcome.issue
    .map((issue) => issue.details?.text ?? issue.diagnostics ?? issue.code)
    .filter((text): text is string => typeof text === 'string' && text !== '');
  return parts.length > 0 ? `: ${parts.join('; ')}` : '';
}
