/**
 * Parses an HTTP `Retry-After` header into a delay in milliseconds. The header is either
 * a number of seconds (`120`) or an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`); a date in
 * the past means "now" (0). Anything unparseable gives `undefined`, so the caller falls
 * back to its own backoff rather than trusting garbage.
 * @see https://www.rfc-editor.org/rfc/rfc9110#field.retry-after
 * @see http://hl7.org/fhir/R4/http.html#summary
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) {
    const seconds = Number(text);
    return Number.isSafeInteger(seconds) ? seconds * 1000 : undefined;
  }
  // Only accept something that looks like a date, not bare numbers with signs or decimals
  // which Date.parse would happily read as a year.
  if (!/[a-z]/i.test(text)) return undefined;
  // HTTP dates are always GMT; asctime form omits the zone, which Date.parse would read as local.
  const at = Date.parse(/(GMT|UTC|[+-]\d{4})$/i.test(text) ? text : `${text} GMT`);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
