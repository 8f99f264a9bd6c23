import { OutcomeError, operationOutcome } from '@kap/fhir';
import type { RequestHandler } from 'express';
import { callerOf } from './caller';
import { PUBLIC_PATHS } from './jwt-auth';

/**
 * Which scope each route needs, in one table (docs/api.md#authentication-and-tenants), so an
 * auditor reads every rule here and a route nobody listed is closed, not open.
 *
 * Two kinds of scope:
 * - the adapter's own: `kap/v1.read`, `kap/v1.write`, `kap/admin` (a tenant's operator), and
 *   `kap/operator` (the deployment's operator, for what belongs to no tenant: hospital messages no
 *   tenant claims, refused tokens);
 * - SMART App Launch 2.x resource scopes on the FHIR face, `system/<Type>.<cruds>` or
 *   `user/<Type>.<cruds>` with `*` for every type; SMART 1.x `.read`, `.write` and `.*` are
 *   taken as `.rs`, `.cud` and `.cruds`
 *   (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html).
 *   `patient/` scopes are not honoured: they need a patient launch context this API has not.
 *   A scope with a `?param=value` restriction is not honoured either: the API cannot apply it.
 */

export const KAP_SCOPES = { read: 'kap/v1.read', write: 'kap/v1.write', admin: 'kap/admin', operator: 'kap/operator' } as const;

/** One SMART permission letter: create, read, update, delete, search. */
export type SmartPermission = 'c' | 'r' | 'u' | 'd' | 's';

/** What a route needs: nothing (public), one of the adapter's scopes, or a SMART permission on a resource type. */
export type ScopeNeed =
  | { readonly kind: 'public' }
  | { readonly kind: 'kap'; readonly scope: string }
  | { readonly kind: 'smart'; readonly resourceType: string; readonly permission: SmartPermission };

const PUBLIC: ScopeNeed = { kind: 'public' };
const kap = (scope: string): ScopeNeed => ({ kind: 'kap', scope });
const smart = (resourceType: string, permission: SmartPermission): ScopeNeed => ({ kind: 'smart', resourceType, permission });
const isRead = (method: string): boolean => method === 'GET' || method === 'HEAD';

/** The FHIR interaction of each method on an instance or a type (http://hl7.org/fhir/R4/http.html). */
const FHIR_WRITE: Readonly<Record<string, SmartPermission>> = { POST: 'c', PUT: 'u', PATCH: 'u', DELETE: 'd' };

/**
 * The route table: first match wins. Anything it does not name needs `kap/admin`, so a
 * route added later without a row here is closed to clinical clients.
 */
const ROUTES: ReadonlyArray<{ readonly path: RegExp; readonly need: (method: string, match: RegExpExecArray) => ScopeNeed }> = [
  // The course page's shell and scripts carry no patient data; its data calls are /v1 GETs.
  { path: /^\/courses\/[^/]+$/, need: () => PUBLIC },
  { path: /^\/assets\/[^/]+$/, need: () => PUBLIC },
  // Operators' views: queue contents and service internals.
  { path: /^\/metrics$/, need: () => kap(KAP_SCOPES.admin) },
  { path: /^\/admin\/queues(\/|$)/, need: () => kap(KAP_SCOPES.admin) },
  { path: /^\/v1\/admin(\/|$)/, need: () => kap(KAP_SCOPES.admin) },
  // The deployment's own data (hospital messages no tenant claims): not any tenant's admin's.
  { path: /^\/v1\/operator(\/|$)/, need: () => kap(KAP_SCOPES.operator) },
  { path: /^\/v1(\/|$)/, need: (method) => kap(isRead(method) ? KAP_SCOPES.read : KAP_SCOPES.write) },
  // FHIR: read and vread need `r`, search needs `s`, a POST to the type needs `c`.
  {
    path: /^\/fhir\/R4\/([A-Za-z]+)\/[^/]+(\/_history\/[^/]+)?$/,
    need: (method, m) => smart(m[1] as string, isRead(method) ? 'r' : (FHIR_WRITE[method] ?? 'u')),
  },
  { path: /^\/fhir\/R4\/([A-Za-z]+)$/, need: (method, m) => smart(m[1] as string, isRead(method) ? 's' : (FHIR_WRITE[method] ?? 'c')) },
];

/** The scope a request needs. */
export function scopeNeeded(method: string, path: string): ScopeNeed {
  if (PUBLIC_PATHS.some((p) => p.test(path))) return PUBLIC;
  for (const route of ROUTES) {
    const match = route.path.exec(path);
    if (match) return route.need(method.toUpperCase(), match);
  }
  return kap(KAP_SCOPES.admin);
}

const SMART_V1: Readonly<Record<string, string>> = { read: 'rs', write: 'cud', '*': 'cruds' };

/** The permissions a SMART scope grants on a type, or nothing when it is not a scope this API honours. */
function smartGrant(scope: string): { resourceType: string; permissions: string } | undefined {
  const match = /^(system|user)\/(\*|[A-Z][A-Za-z]*)\.([a-z*]+)$/.exec(scope);
  if (!match) return undefined;
  const [, , resourceType, given] = match as unknown as [string, string, string, string];
  // v2 letters come in the order c, r, u, d, s, each at most once.
  const permissions = SMART_V1[given] ?? (/^c?r?u?d?s?$/.test(given) && given.length > 0 ? given : undefined);
  return permissions ? { resourceType, permissions } : undefined;
}

/** Whether granted scopes cover a need; `*` (authentication off) covers everything. */
export function grants(scopes: ReadonlySet<string>, need: ScopeNeed): boolean {
  if (need.kind === 'public' || scopes.has('*')) return true;
  if (need.kind === 'kap') return scopes.has(need.scope);
  for (const scope of scopes) {
    const grant = smartGrant(scope);
    if (grant && (grant.resourceType === '*' || grant.resourceType === need.resourceType) && grant.permissions.includes(need.permission))
      return true;
  }
  return false;
}

/** How to name a need in a 403, so the client's owner knows which scope to ask the issuer for. */
export function describeNeed(need: ScopeNeed): string {
  if (need.kind === 'public') return 'none';
  if (need.kind === 'kap') return need.scope;
  return `system/${need.resourceType}.${need.permission} (or system/*.${need.permission}, or the user/ equivalent)`;
}

/** The scope string for WWW-Authenticate (RFC 6750 section 3): the narrowest scope that would do. */
const scopeToken = (need: ScopeNeed): string =>
  need.kind === 'smart' ? `system/${need.resourceType}.${need.permission}` : need.kind === 'kap' ? need.scope : '';

/**
 * After authentication: a caller whose token lacks the route's scope gets 403 with an
 * OperationOutcome naming the scope, before the route runs, so nothing is read or changed.
 */
export function requireScopes(): RequestHandler {
  return (req, res, next) => {
    const need = scopeNeeded(req.method, req.path);
    // Mounted behind authentication: a request it recorded no caller for holds no scope, whatever callerOf's open-mode default says.
    const authenticated = (res.locals as { caller?: unknown }).caller !== undefined;
    if (grants(authenticated ? callerOf(res).scopes : new Set<string>(), need)) return next();
    next(
      new OutcomeError(
        403,
        operationOutcome([{ code: 'forbidden', diagnostics: `This token lacks the scope this request needs: ${describeNeed(need)}` }]),
        {
          'WWW-Authenticate': `Bearer realm="kap-adapter", error="insufficient_scope", scope="${scopeToken(need)}"`,
        },
      ),
    );
  };
}

/** Every scope this API understands, for /.well-known/smart-configuration. */
export const SCOPES_SUPPORTED: readonly string[] = [
  KAP_SCOPES.read,
  KAP_SCOPES.write,
  KAP_SCOPES.admin,
  'system/*.rs',
  'system/*.cruds',
  'system/QuestionnaireResponse.c',
  'system/AuditEvent.rs',
  'user/*.rs',
  'user/*.cruds',
];
