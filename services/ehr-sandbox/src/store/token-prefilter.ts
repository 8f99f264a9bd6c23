import { Operator, type SearchRequest } from '@medplum/core';
import type { Coding, Identifier, Resource } from '@medplum/fhirtypes';

/** Splits on a separator not escaped with a backslash, keeping escapes (http://hl7.org/fhir/R4/search.html#escaping). */
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === '\\' && i + 1 < text.length) {
      current += ch + (text[++i] as string);
    } else if (ch === separator) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

const unescape = (text: string): string => text.replace(/\\(.)/g, '$1');

interface Token {
  readonly system?: string;
  readonly code: string;
}

function tokens(value: string): Token[] {
  return splitUnescaped(value, ',').map((one) => {
    const [first, ...rest] = splitUnescaped(one, '|');
    if (rest.length === 0) return { code: unescape(first ?? '') };
    const system = unescape(first ?? '');
    return { ...(system ? { system } : {}), code: unescape(rest.join('|')) };
  });
}

const identifiersOf = (r: Resource): Identifier[] => {
  const value = (r as { identifier?: Identifier | Identifier[] }).identifier;
  return Array.isArray(value) ? value : value ? [value] : [];
};

/**
 * A quick test a resource must pass to match the search's `identifier` or `_tag` token
 * filter (plain equality only), or undefined when the search has none. Only a necessary
 * condition: Medplum's full matcher still runs on what passes. `identifier` is read from the
 * resource's own `identifier` element, which is where R4 puts it for every type the sandbox
 * is used with; a type that keeps it elsewhere (DocumentReference.masterIdentifier) skips it.
 */
export function tokenPrefilter(search: SearchRequest): ((r: Resource) => boolean) | undefined {
  if (search.resourceType === 'DocumentReference') return undefined;
  const filters = (search.filters ?? []).filter((f) => f.operator === Operator.EQUALS && (f.code === 'identifier' || f.code === '_tag'));
  if (filters.length === 0) return undefined;
  const checks = filters.map((f) => {
    const wanted = tokens(f.value);
    const test = (system: string | undefined, code: string | undefined): boolean =>
      wanted.some((t) => t.code === code && (t.system === undefined || t.system === system));
    return f.code === 'identifier'
      ? (r: Resource) => identifiersOf(r).some((i) => test(i.system, i.value))
      : (r: Resource) => (r.meta?.tag ?? []).some((c: Coding) => test(c.system, c.code));
  });
  return (r) => checks.every((check) => check(r));
}
