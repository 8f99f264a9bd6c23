import { getStatus } from '@medplum/core';
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { Request, Response } from 'express';
import { formatEtag } from '../fhir/etag';
import { FHIR_JSON } from './fhir-json';

/**
 * Writes a Medplum `FhirResponse` as HTTP: the status derived from the outcome, the resource
 * (or the outcome when there is none), and for single resources the version headers.
 * Honours `Prefer: return=minimal | OperationOutcome`.
 * @see http://hl7.org/fhir/R4/http.html#versioning
 * @see http://hl7.org/fhir/R4/http.html#ops
 */
export function sendFhir(req: Request, res: Response, outcome: OperationOutcome, resource: Resource | undefined, baseUrl: string): void {
  const status = getStatus(outcome);
  res.status(status).set('Content-Type', FHIR_JSON);
  if (!resource) {
    res.send(JSON.stringify(outcome));
    return;
  }
  const body = resource.resourceType === 'Bundle' ? completeBundle(resource, req, baseUrl) : resource;
  const versionId = resource.meta?.versionId;
  if (resource.id && versionId && resource.resourceType !== 'Bundle') {
    res.set('ETag', formatEtag(versionId));
    if (resource.meta?.lastUpdated) {
      res.set('Last-Modified', new Date(resource.meta.lastUpdated).toUTCString());
    }
    if (status === 201) {
      const location = `${baseUrl}/${resource.resourceType}/${resource.id}/_history/${versionId}`;
      res.set('Location', location).set('Content-Location', location);
    }
  }
  const prefer = /return=(minimal|OperationOutcome|representation)/.exec(req.get('prefer') ?? '')?.[1];
  if (prefer === 'minimal' && status < 300) {
    res.end();
  } else if (prefer === 'OperationOutcome') {
    res.send(JSON.stringify(outcome));
  } else {
    res.send(JSON.stringify(body));
  }
}

/**
 * Adds what Medplum's search and history Bundles lack: entry `fullUrl`, the `self` link and a
 * `next` link when `_count` cut the result short.
 * @see http://hl7.org/fhir/R4/http.html#paging
 * @see http://hl7.org/fhir/R4/bundle.html#bundle-unique
 */
function completeBundle(bundle: Bundle, req: Request, baseUrl: string): Bundle {
  if (bundle.type !== 'searchset' && bundle.type !== 'history') {
    return bundle;
  }
  const self = new URL(`${baseUrl}${req.url}`);
  const link: NonNullable<Bundle['link']> = [{ relation: 'self', url: self.toString() }];
  const count = Number(self.searchParams.get('_count') ?? NaN);
  const offset = Number(self.searchParams.get('_offset') ?? 0);
  const shown = bundle.entry?.length ?? 0;
  if (Number.isInteger(count) && count > 0 && bundle.total !== undefined && offset + shown < bundle.total) {
    const next = new URL(self);
    next.searchParams.set('_offset', String(offset + shown));
    link.push({ relation: 'next', url: next.toString() });
  }
  return {
    ...bundle,
    link,
    entry: bundle.entry?.map((e) =>
      e.resource?.id && !e.fullUrl ? { fullUrl: `${baseUrl}/${e.resource.resourceType}/${e.resource.id}`, ...e } : e,
    ),
  };
}
