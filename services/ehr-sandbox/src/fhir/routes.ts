import { allOk, badRequest, created, notFound, OperationOutcomeError, parseSearchRequest } from '@medplum/core';
import type { FhirRequest, FhirResponse, FhirRouteHandler, FhirRouteOptions, HttpMethod } from '@medplum/fhir-router';
import { FhirRouter } from '@medplum/fhir-router';
import type { Resource, ResourceType } from '@medplum/fhirtypes';
import type { SandboxRepository } from '../store/sandbox-repository';
import { parseIfMatch } from './etag';

/** A route handler bound to the sandbox repository rather than Medplum's abstract one. */
type SandboxHandler = (req: FhirRequest, options?: FhirRouteOptions) => Promise<FhirResponse>;

/**
 * Medplum's FhirRouter with the handlers it gets wrong for a conformant server replaced.
 * Replacing (not adding) is needed because its URL router picks the first of equally specific
 * routes, and batch/transaction entries are dispatched through the same table, so each fix
 * also applies inside Bundles.
 * @see http://hl7.org/fhir/R4/http.html
 */
export function createFhirRouter(repo: SandboxRepository, options: { readonly updateCreate?: boolean } = {}): FhirRouter {
  const router = new FhirRouter();
  replaceHandler(router, 'PUT', ':resourceType/:id', (req) => update(req, repo, options.updateCreate ?? false));
  replaceHandler(router, 'PUT', ':resourceType', (req, options) => conditionalUpdate(req, repo, options));
  replaceHandler(router, 'DELETE', ':resourceType/:id', (req) => remove(req, repo));
  return router;
}

function replaceHandler(router: FhirRouter, method: HttpMethod, path: string, handler: SandboxHandler): void {
  const segments = path.split('/').filter(Boolean);
  const route = router.router.routes.find(
    (r) =>
      r.method === method &&
      r.path.length === segments.length &&
      r.path.every((s, i) => (s.param ? `:${s.value}` : s.value) === segments[i]),
  );
  if (!route) {
    throw new Error(`Medplum FhirRouter has no route ${method} ${path}`);
  }
  const wrapped: FhirRouteHandler = (req, _repo, _router, options) => handler(req, options);
  route.handler = wrapped;
}

/**
 * Medplum answers 200 even when the update created the resource, and drops unquoted If-Match.
 * Without `updateCreate` (Medplum's behaviour, and what the CapabilityStatement says), a PUT
 * to an id the server lacks is 404: a client must not rely on choosing ids.
 * @see http://hl7.org/fhir/R4/http.html#update
 */
async function update(req: FhirRequest, repo: SandboxRepository, updateCreate: boolean): Promise<FhirResponse> {
  const resourceType = param(req, 'resourceType');
  const id = param(req, 'id');
  const resource = req.body as Resource;
  if (resource?.resourceType !== resourceType) {
    return [badRequest(`Incorrect resource type: expected ${resourceType}`, 'resourceType')];
  }
  if (resource.id !== id) {
    return [badRequest('Resource id does not match the URL', `${resourceType}.id`)];
  }
  const existed = repo.exists(resourceType, id);
  if (!existed && !updateCreate) {
    return [notFound];
  }
  const result = await repo.updateResource(resource, { ifMatch: parseIfMatch(req.headers?.['if-match']) });
  return [existed ? allOk : created, result];
}

/**
 * Medplum's conditional update ignores If-Match; honour it against the matched resource.
 * @see http://hl7.org/fhir/R4/http.html#cond-update
 */
async function conditionalUpdate(req: FhirRequest, repo: SandboxRepository, options?: FhirRouteOptions): Promise<FhirResponse> {
  const resourceType = param(req, 'resourceType');
  const resource = req.body as Resource;
  if (resource?.resourceType !== resourceType) {
    return [badRequest(`Incorrect resource type: expected ${resourceType}`, 'resourceType')];
  }
  const search = parseSearchRequest(resourceType as ResourceType, req.query);
  if (!search.filters?.length) {
    return [badRequest('Conditional update requires search criteria')];
  }
  const result = await repo.conditionalUpdate(resource, search, {
    // Inside a Bundle, Medplum's batch processor has already assigned the id for the create case.
    assignedId: Boolean(options?.batch),
    ifMatch: parseIfMatch(req.headers?.['if-match']),
  });
  return [result.outcome, result.resource];
}

/**
 * Delete is idempotent: deleting an absent or already deleted resource succeeds, where
 * Medplum's repository contract answers 404.
 * @see http://hl7.org/fhir/R4/http.html#delete
 */
async function remove(req: FhirRequest, repo: SandboxRepository): Promise<FhirResponse> {
  const resourceType = param(req, 'resourceType');
  const id = param(req, 'id');
  if (repo.exists(resourceType, id)) {
    await repo.deleteResource(resourceType, id);
  }
  return [allOk];
}

function param(req: FhirRequest, name: string): string {
  const value = req.params[name];
  if (!value) {
    throw new OperationOutcomeError(badRequest(`Missing path parameter ${name}`));
  }
  return value;
}
