import { isResourceType, notFound } from '@medplum/core';
import type { FhirRequest, FhirResponse, FhirRouter, HttpMethod } from '@medplum/fhir-router';
import express from 'express';
import type { Request, RequestHandler, Router } from 'express';
import type { FaultInjector, RequestKind } from '../admin/faults';
import type { AuthOptions } from '../auth/options';
import { TOKEN_PATH } from '../auth/options';
import { grantOf, requireToken } from '../auth/require-token';
import { scopeRefusal } from '../auth/scopes';
import type { TokenStore } from '../auth/token-store';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { executeBundle } from '../fhir/bundle';
import { contentRefusal, policyRefusal } from '../fhir/enforce-policy';
import { classifyRequest } from '../fhir/interactions';
import { buildCapabilityStatement } from '../fhir/capability';
import type { SandboxPolicy } from '../fhir/policy';
import { errorOutcome, HttpError } from '../fhir/outcomes';
import type { SandboxRepository } from '../store/sandbox-repository';
import type { KeyedLock } from '../store/keyed-lock';
import { bundleLockKeys, requestLockKeys } from '../fhir/lock-keys';
import { FHIR_JSON, FORM_TYPE, JSON_TYPES } from './fhir-json';
import { sendFhir } from './send';

/** Everything the FHIR endpoint needs, built once per sandbox. */
export interface FhirRoutesDeps {
  readonly router: FhirRouter;
  readonly repo: SandboxRepository;
  readonly locks: KeyedLock;
  readonly faults: FaultInjector;
  readonly auth: AuthOptions;
  readonly tokens: TokenStore;
  readonly bodyLimit: string;
  readonly policy: SandboxPolicy;
}

const METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The FHIR R4 REST endpoint, mounted at the base URL (`/fhir/R4`).
 * `metadata` and the SMART configuration stay public, as R4 and SMART expect; everything else
 * passes authentication, then fault injection, then Medplum's router holding the locks of the
 * identities it writes (none for reads).
 * @see http://hl7.org/fhir/R4/http.html
 */
export function fhirRoutes(deps: FhirRoutesDeps): Router {
  const routes = express.Router();
  routes.use(express.json({ type: JSON_TYPES, limit: deps.bodyLimit }));
  routes.use(express.urlencoded({ type: FORM_TYPE, extended: false, limit: deps.bodyLimit }));
  routes.use(requireSupportedBody);
  routes.get('/metadata', (req, res) => {
    const statement = buildCapabilityStatement({
      baseUrl: baseUrlOf(req),
      bearerRequired: deps.auth.mode !== 'none',
      policy: deps.policy,
      ...(deps.auth.mode === 'oauth' ? { tokenUrl: tokenUrlOf(req) } : {}),
    });
    res.status(200).set('Content-Type', FHIR_JSON).send(JSON.stringify(statement));
  });
  routes.get('/.well-known/smart-configuration', (req, res, next) => {
    if (deps.auth.mode !== 'oauth') {
      next(new HttpError(404, notFound));
      return;
    }
    res.status(200).json(smartConfiguration(tokenUrlOf(req)));
  });
  routes.use(requireToken(deps.auth, deps.tokens));
  routes.use(injectFaults(deps.faults));
  routes.use(dispatch(deps));
  return routes;
}

function dispatch(deps: FhirRoutesDeps): RequestHandler {
  return async (req, res, next) => {
    try {
      if (!METHODS.has(req.method)) {
        throw new HttpError(405, errorOutcome('not-supported', `Method ${req.method} is not supported`));
      }
      const firstSegment = decodeURIComponent(req.path.split('/')[1] ?? '');
      if (firstSegment && !firstSegment.startsWith('$') && !isResourceType(firstSegment)) {
        throw new HttpError(404, errorOutcome('not-found', `Unknown resource type: ${firstSegment}`));
      }
      const grant = grantOf(res);
      const requested = classifyRequest(req.method, req.url);
      if (requested) {
        const refused =
          policyRefusal(deps.policy, requested, searchParamNames(req)) ?? scopeRefusal(grant, requested, req.body as Resource | undefined);
        if (refused) throw refused;
        if (requested.interaction === 'create' || requested.interaction === 'update') {
          const content = contentRefusal(deps.policy, req.body as Resource | undefined);
          if (content) throw content;
        }
      }
      const baseUrl = baseUrlOf(req);
      const fhirRequest: FhirRequest = {
        method: req.method as HttpMethod,
        url: req.url,
        pathname: '',
        params: {},
        query: {},
        body: req.body,
        // A server without conditional create ignores If-None-Exist and creates: an adapter
        // that relies on it duplicates here as it would there.
        headers: deps.policy.conditionalCreate ? req.headers : withoutHeader(req.headers, 'if-none-exist'),
        config: {},
      };
      const isBundlePost = req.method === 'POST' && (req.path === '/' || req.path === '');
      const keys = isBundlePost
        ? (req.body as Bundle | undefined)?.resourceType === 'Bundle'
          ? bundleLockKeys(req.body as Bundle)
          : []
        : requestLockKeys(req.method, req.url, fhirRequest.headers?.['if-none-exist'] as string | undefined);
      const response = await deps.locks.run(keys, async (): Promise<FhirResponse | undefined> => {
        // A client that gave up while queued (timed out, disconnected) gets nothing done for
        // it: as if the request never arrived. Serving it would only delay those still waiting.
        if (res.destroyed || req.socket.destroyed) return undefined;
        const handled = await (isBundlePost
          ? executeBundle(deps.router, deps.repo, fhirRequest, baseUrl, deps.policy, grant)
          : deps.router.handleRequest(fhirRequest, deps.repo));
        // The EHR's database and network time, as a wait that other requests overlap.
        if (deps.policy.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, deps.policy.latencyMs));
        return handled;
      });
      if (!response) return;
      const [outcome, resource] = response;
      sendFhir(req, res, outcome, resource, baseUrl);
    } catch (err) {
      next(err);
    }
  };
}

function withoutHeader(headers: Request['headers'], name: string): Request['headers'] {
  const { [name]: _dropped, ...rest } = headers;
  return rest;
}

/** Names of the search parameters of a search, from the query and a `_search` form body. */
function searchParamNames(req: Request): string[] {
  const names = Object.keys(req.query as Record<string, unknown>);
  if (req.method === 'POST' && req.is(FORM_TYPE) && req.body && typeof req.body === 'object') {
    names.push(...Object.keys(req.body as Record<string, unknown>));
  }
  return names;
}

/** A write whose body is neither FHIR JSON nor, for `_search`, a form is a 415. */
const requireSupportedBody: RequestHandler = (req, _res, next) => {
  const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
  if (!hasBody || req.method === 'GET' || req.method === 'DELETE') {
    next();
    return;
  }
  const isSearch = req.method === 'POST' && req.path.endsWith('/_search');
  if (req.is(JSON_TYPES) || (isSearch && req.is(FORM_TYPE))) {
    next();
    return;
  }
  next(new HttpError(415, errorOutcome('not-supported', `Unsupported Content-Type: ${req.get('content-type') ?? 'none'}`)));
};

function injectFaults(faults: FaultInjector): RequestHandler {
  return async (req, _res, next) => {
    const action = faults.take(kindOf(req));
    if (!action) {
      next();
      return;
    }
    if (action.delayMs) {
      await new Promise((resolve) => setTimeout(resolve, action.delayMs));
    }
    if (action.status === undefined) {
      next();
      return;
    }
    const headers: Record<string, string> = action.retryAfter === undefined ? {} : { 'Retry-After': String(action.retryAfter) };
    next(new HttpError(action.status, errorOutcome(issueCodeFor(action.status), `Injected fault ${action.status}`), headers));
  };
}

function kindOf(req: Request): RequestKind {
  const body: unknown = req.body;
  if (req.method === 'POST' && req.path === '/' && body && typeof body === 'object' && 'type' in body) {
    if (body.type === 'transaction') {
      return 'transaction';
    }
    if (body.type === 'batch') {
      return 'batch';
    }
  }
  return 'other';
}

function issueCodeFor(status: number): 'throttled' | 'transient' | 'conflict' | 'exception' {
  switch (status) {
    case 429:
      return 'throttled';
    case 503:
      return 'transient';
    case 409:
    case 412:
      return 'conflict';
    default:
      return 'exception';
  }
}

/** The FHIR base URL as the client addressed it; right behind port 0 and proxies alike. */
function baseUrlOf(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}${req.baseUrl}`;
}

function tokenUrlOf(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}${TOKEN_PATH}`;
}

/** @see https://hl7.org/fhir/smart-app-launch/conformance.html#using-well-known */
function smartConfiguration(tokenUrl: string): Record<string, unknown> {
  return {
    token_endpoint: tokenUrl,
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
    scopes_supported: ['system/*.read', 'system/*.write', 'system/*.*', 'system/*.rs', 'system/*.cruds'],
    // Both scope syntaxes are enforced (auth/scopes.ts), as Medplum announces.
    capabilities: ['client-confidential-symmetric', 'client-confidential-asymmetric', 'permission-v1', 'permission-v2'],
  };
}
