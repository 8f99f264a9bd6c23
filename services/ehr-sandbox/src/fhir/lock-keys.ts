import type { Bundle } from '@medplum/fhirtypes';
import { classifyRequest } from './interactions';

/**
 * The identities a request may race on: the search criteria of a conditional create, update,
 * patch or delete (`Type?criteria`, parameters sorted) and the `Type/id` of an instance write.
 * Reads and plain creates race on nothing. Two conditional requests whose differently written
 * criteria match the same resource are not serialised; the adapter writes one form per identity.
 */
export function requestLockKeys(method: string, url: string, ifNoneExist: string | undefined): string[] {
  const requested = classifyRequest(method, url);
  if (!requested) return [];
  const { resourceType, interaction, id, conditional } = requested;
  if (interaction === 'create') {
    return ifNoneExist ? [`${resourceType}?${canonicalQuery(ifNoneExist)}`] : [];
  }
  if (interaction === 'update' || interaction === 'patch' || interaction === 'delete') {
    return conditional !== undefined ? [`${resourceType}?${canonicalQuery(conditional)}`] : id ? [`${resourceType}/${id}`] : [];
  }
  return [];
}

/** Every entry's keys: a transaction holds them all until it commits or rolls back. */
export function bundleLockKeys(bundle: Bundle): string[] {
  return (bundle.entry ?? []).flatMap((entry) =>
    entry.request?.method && entry.request.url ? requestLockKeys(entry.request.method, entry.request.url, entry.request.ifNoneExist) : [],
  );
}

function canonicalQuery(query: string): string {
  const params = new URLSearchParams(query);
  params.sort();
  return params.toString();
}
