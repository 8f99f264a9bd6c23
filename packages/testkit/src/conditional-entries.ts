import { identifierQuery, type IdentifierKey } from '@kap/ehr-client';
import type { BundleEntry, Resource } from '@medplum/fhirtypes';

// Hand-made conditional writes, for tests that drive an EHR directly; the sync builds its own (planSync).

/**
 * A transaction entry that creates `resource` unless one with this identifier exists
 * (`If-None-Exist`). Repeating it never makes a second resource.
 * @see http://hl7.org/fhir/R4/http.html#ccreate
 */
export function conditionalCreateEntry<T extends Resource>(resource: T, identifier: IdentifierKey, fullUrl?: string): BundleEntry<T> {
  return {
    ...(fullUrl ? { fullUrl } : {}),
    resource,
    request: { method: 'POST', url: resource.resourceType, ifNoneExist: identifierQuery(identifier) },
  };
}

/**
 * A transaction entry that updates the resource with this identifier, or creates it when
 * there is none. `ifMatch` (an ETag from a read, passed through untouched) makes it fail
 * with 412 if someone else changed the resource since.
 * @see http://hl7.org/fhir/R4/http.html#cond-update
 * @see http://hl7.org/fhir/R4/http.html#concurrency
 */
export function conditionalUpdateEntry<T extends Resource>(
  resource: T,
  identifier: IdentifierKey,
  options: { readonly fullUrl?: string; readonly ifMatch?: string } = {},
): BundleEntry<T> {
  return {
    ...(options.fullUrl ? { fullUrl: options.fullUrl } : {}),
    resource,
    request: {
      method: 'PUT',
      url: `${resource.resourceType}?${identifierQuery(identifier)}`,
      ...(options.ifMatch ? { ifMatch: options.ifMatch } : {}),
    },
  };
}
