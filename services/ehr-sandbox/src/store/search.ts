import type { SearchRequest, SortRule } from '@medplum/core';
import { badRequest, evalFhirPath, globalSchema, OperationOutcomeError } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

/** Result parameters that carry no filter; accepted and ignored like most servers do. */
const IGNORED_PARAMETERS = new Set(['_format', '_pretty']);

/**
 * Checks and normalises a parsed search before Medplum's `matchesSearchRequest` sees it.
 * Medplum treats an unknown parameter as "matches nothing", which would turn a typo in an
 * If-None-Exist into a duplicate create; R4 lets a server reject unknown parameters, so we do.
 * It also compares reference values as literal strings, so `patient=123` would never match
 * `Patient/123`; R4 says a bare id matches any allowed target type.
 * @see http://hl7.org/fhir/R4/search.html#errors
 * @see http://hl7.org/fhir/R4/search.html#reference
 */
export function prepareSearch<T extends Resource>(search: SearchRequest<T>): SearchRequest<T> {
  const params = globalSchema.types[search.resourceType]?.searchParams;
  if (!params) {
    throw new OperationOutcomeError(badRequest(`Unknown resource type: ${search.resourceType}`));
  }
  const filters = (search.filters ?? []).filter((f) => !IGNORED_PARAMETERS.has(f.code));
  for (const filter of filters) {
    const param = params[filter.code];
    if (!param) {
      throw new OperationOutcomeError(badRequest(`Unknown search parameter for ${search.resourceType}: ${filter.code}`, filter.code));
    }
    if (param.type === 'reference') {
      filter.value = expandBareReferences(filter.value, param.target ?? []);
    }
  }
  for (const rule of search.sortRules ?? []) {
    if (!params[rule.code]) {
      throw new OperationOutcomeError(badRequest(`Unknown sort parameter: ${rule.code}`, '_sort'));
    }
  }
  return { ...search, filters };
}

function expandBareReferences(value: string, targets: readonly string[]): string {
  return value
    .split(',')
    .flatMap((v) => (v.includes('/') || v === '' ? [v] : targets.map((t) => `${t}/${v}`)))
    .join(',');
}

/** Orders by every `_sort` rule, the first rule taking precedence. */
export function compareBySortRules(rules: readonly SortRule[]): (a: Resource, b: Resource) => number {
  return (a, b) => {
    for (const rule of rules) {
      const expression = globalSchema.types[a.resourceType]?.searchParams?.[rule.code]?.expression;
      if (!expression) {
        continue;
      }
      const left = JSON.stringify(evalFhirPath(expression, a));
      const right = JSON.stringify(evalFhirPath(expression, b));
      const order = left.localeCompare(right) * (rule.descending ? -1 : 1);
      if (order !== 0) {
        return order;
      }
    }
    return 0;
  };
}
