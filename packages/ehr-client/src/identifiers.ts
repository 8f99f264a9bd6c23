/**
 * Identifier tokens for search and for conditional writes. Identifiers are derived from
 * source keys, so a conditional create or update by identifier makes every retry of a
 * sync job land on the same EHR resource.
 * @see http://hl7.org/fhir/R4/search.html#token
 * @see http://hl7.org/fhir/R4/http.html#ccreate
 * @see http://hl7.org/fhir/R4/http.html#cond-update
 */

export interface IdentifierKey {
  readonly system: string;
  readonly value: string;
}

/**
 * `system|value` with FHIR search escaping, so a value containing `,`, `|`, `$` or `\`
 * is not split into several values by the server.
 * @see http://hl7.org/fhir/R4/search.html#escaping
 */
export function identifierToken(identifier: IdentifierKey): string {
  return `${escapeSearchValue(identifier.system)}|${escapeSearchValue(identifier.value)}`;
}

export function escapeSearchValue(value: string): string {
  return value.replace(/[\\,|$]/g, (c) => `\\${c}`);
}

/** The query string (without `?`) that finds a resource by one identifier. */
export function identifierQuery(identifier: IdentifierKey): string {
  return new URLSearchParams({ identifier: identifierToken(identifier) }).toString();
}

/**
 * Splits identifiers into comma-OR search values whose encoded length stays within
 * `maxEncodedLength`, at most `maxPerChunk` per chunk. Servers and proxies commonly cap
 * request lines around 4–8 KB; staying near 2 KB leaves room for base URL and headers.
 */
export function chunkIdentifierTokens(
  identifiers: readonly IdentifierKey[],
  options: { readonly maxEncodedLength?: number; readonly maxPerChunk?: number } = {},
): string[][] {
  const maxLength = options.maxEncodedLength ?? 1500;
  const maxPerChunk = options.maxPerChunk ?? 50;
  const unique = [...new Set(identifiers.map(identifierToken))];
  const chunks: string[][] = [];
  let current: string[] = [];
  let length = 0;
  for (const token of unique) {
    const encoded = encodeURIComponent(token).length + 3; // plus an encoded comma
    if (current.length > 0 && (length + encoded > maxLength || current.length >= maxPerChunk)) {
      chunks.push(current);
      current = [];
      length = 0;
    }
    current.push(token);
    length += encoded;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
