import { getReferenceString, isOk } from '@medplum/core';
import type { Bundle, BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { formatEtag } from './etag';

/**
 * Completes Medplum's batch/transaction-response entries, which carry only `Type/id` as
 * location: R4 asks for a version-specific location, the ETag and Last-Modified, so clients can
 * follow up with If-Match without another read.
 * @see http://hl7.org/fhir/R4/http.html#transaction-response
 */
export function completeBundleResponse(bundle: Bundle, baseUrl: string): Bundle {
  return { ...bundle, entry: bundle.entry?.map((entry) => completeEntry(entry, baseUrl)) };
}

function completeEntry(entry: BundleEntry, baseUrl: string): BundleEntry {
  const { resource, response } = entry;
  if (!response) {
    return entry;
  }
  const versionId = resource?.meta?.versionId;
  if (!resource?.id || !versionId || !response.outcome || !isOk(response.outcome)) {
    return entry;
  }
  const reference = getReferenceString(resource as Resource & { id: string });
  const { outcome: _ok, ...rest } = response;
  return {
    fullUrl: `${baseUrl}/${reference}`,
    resource,
    response: {
      ...rest,
      location: `${reference}/_history/${versionId}`,
      etag: formatEtag(versionId),
      ...(resource.meta?.lastUpdated ? { lastModified: resource.meta.lastUpdated } : {}),
    },
  };
}

/** Processing order of a transaction: DELETE, POST, PUT/PATCH, then reads. */
const METHOD_ORDER: Readonly<Record<string, number>> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3, HEAD: 3 };

/**
 * The outcome of the first entry, in processing order, whose status is not 2xx, annotated with
 * the entry's index: later failures are often consequences of the first.
 * @see http://hl7.org/fhir/R4/http.html#trules
 */
export function firstFailure(request: Bundle, response: Bundle): OperationOutcome | undefined {
  const failures = (response.entry ?? [])
    .map((entry, index) => ({ entry, index, method: request.entry?.[index]?.request?.method ?? 'GET' }))
    .filter(({ entry }) => !entry.response?.status?.startsWith('2'))
    .sort((a, b) => (METHOD_ORDER[a.method] ?? 3) - (METHOD_ORDER[b.method] ?? 3) || a.index - b.index);
  const failure = failures[0];
  if (!failure) {
    return undefined;
  }
  const outcome: OperationOutcome = failure.entry.response?.outcome ?? {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'processing' }],
  };
  const where = `Bundle.entry[${failure.index}]`;
  return {
    ...outcome,
    issue: outcome.issue.map((issue) => ({
      ...issue,
      diagnostics: issue.diagnostics ? `${where}: ${issue.diagnostics}` : `${where} failed`,
    })),
  };
}
