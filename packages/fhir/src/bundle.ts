import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';

/**
 * Bundles of built resources. `fullUrl` is the absolute URL of each resource on the
 * adapter's FHIR base, so relative references (`Type/id`) resolve inside the Bundle.
 * The Bundles are not validated again: every resource in them was validated by its builder,
 * and validating a Bundle re-validates each entry, doubling the cost of every response.
 * The tests check every Bundle they see (@kap/testkit/fhir-invariants).
 * @see https://hl7.org/fhir/R4/bundle.html#references
 */

function entries(resources: readonly Resource[], baseUrl: string): BundleEntry[] {
  const base = baseUrl.replace(/\/+$/, '');
  return resources.map((resource) => {
    if (!resource.id) throw new Error(`Cannot bundle a ${resource.resourceType} without an id`);
    return { fullUrl: `${base}/${resource.resourceType}/${resource.id}`, resource };
  });
}

/**
 * A `collection` Bundle of what an operation produced (the `resources` of REST responses).
 * `timestamp` defaults to now; pass one for reproducible output.
 */
export function collectionBundle(resources: readonly Resource[], baseUrl: string, timestamp: string = new Date().toISOString()): Bundle {
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'collection',
    timestamp,
    ...(resources.length > 0 ? { entry: entries(resources, baseUrl) } : {}),
  };
  return bundle;
}

/**
 * A `searchset` Bundle answering a search; every entry is a match.
 * @see https://hl7.org/fhir/R4/http.html#search
 */
export function searchsetBundle(
  resources: readonly Resource[],
  baseUrl: string,
  selfUrl: string,
  options: { timestamp?: string; total?: number; nextUrl?: string } = {},
): Bundle {
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'searchset',
    timestamp: options.timestamp ?? new Date().toISOString(),
    total: options.total ?? resources.length,
    link: [{ relation: 'self', url: selfUrl }, ...(options.nextUrl ? [{ relation: 'next', url: options.nextUrl }] : [])],
    ...(resources.length > 0 ? { entry: entries(resources, baseUrl).map((e) => ({ ...e, search: { mode: 'match' as const } })) } : {}),
  };
  return bundle;
}
