/**
 * Formats a version id as a weak ETag, the only form FHIR uses.
 * @see http://hl7.org/fhir/R4/http.html#versioning
 */
export function formatEtag(versionId: string): string {
  return `W/"${versionId}"`;
}

/**
 * Extracts the version id from an If-Match value: `W/"3"`, `"3"`, or a bare `3`. Medplum accepts
 * only the quoted forms and silently ignores anything else, which turns a malformed precondition
 * into an unconditional overwrite; a lost update is worse than a lenient parse.
 * @see http://hl7.org/fhir/R4/http.html#concurrency
 */
export function parseIfMatch(value: string | string[] | undefined): string | undefined {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!raw) {
    return undefined;
  }
  const quoted = /^(?:W\/)?"([^"]*)"$/.exec(raw);
  return quoted ? quoted[1] : raw;
}
