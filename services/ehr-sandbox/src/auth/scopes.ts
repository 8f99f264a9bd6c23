import type { Resource } from '@medplum/fhirtypes';
import { READ_INTERACTIONS, type RequestedInteraction } from '../fhir/interactions';
import { HttpError } from '../fhir/outcomes';

/** What a token may do with each resource type. */
export interface ScopeGrant {
  /** The scope string the token was issued with; undefined: full access. */
  readonly scope?: string;
  /** Access to a type: none, read-only (read, vread, history, search) or full. */
  access(resourceType: string): 'none' | 'read' | 'full';
}

/** A token that names no SMART scope: as Medplum, the client's full access. */
export const FULL_ACCESS: ScopeGrant = { access: () => 'full' };

/** SMART v1 and v2 scope syntax, as Medplum parses it (a `?criteria` tail is dropped here). */
const SMART_SCOPE = /^(patient|user|system)\/(\w+|\*)\.(read|write|c?r?u?d?s?|\*)$/;
const READ_ONLY = /^[rs]+$/;

interface SmartScope {
  readonly resourceType: string;
  readonly readOnly: boolean;
}

/**
 * The access a scope string grants, with Medplum server 5.0.10's semantics for a client with
 * full project access (checked against that server):
 * - v1 `.read` is `rs`, `.write` is `cud`, `.*` is `cruds`; a scope whose letters are only
 *   r and s makes its types read-only, any other letter grants full access (Medplum does not
 *   split create from update or delete).
 * - Where any `*` scope is present, the FIRST `*` scope alone decides for every type and
 *   per-type scopes are ignored: `system/*.read system/*.write`, `system/*.rs system/*.cud`
 *   and `system/*.rs system/Patient.cud` refuse every write, `system/*.write system/*.read`
 *   allows them.
 * - Otherwise each type named by a scope gets the widest of its scopes
 *   (`system/Patient.rs system/Patient.cud` writes Patients) and other types get nothing,
 *   not even search.
 * - No SMART scope at all (none asked, or only `openid`): full access.
 * @see https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html
 */
export function grantFromScope(scope: string | undefined): ScopeGrant {
  const scopes = (scope ?? '')
    .split(' ')
    .map((term) => SMART_SCOPE.exec(term.split('?', 1)[0] ?? ''))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m): SmartScope => ({ resourceType: m[2] as string, readOnly: READ_ONLY.test(normalise(m[3] as string)) }));
  if (scopes.length === 0) {
    return { ...(scope ? { scope } : {}), access: () => 'full' };
  }
  const wildcard = scopes.find((s) => s.resourceType === '*');
  if (wildcard) {
    return { ...(scope ? { scope } : {}), access: () => (wildcard.readOnly ? 'read' : 'full') };
  }
  return {
    ...(scope ? { scope } : {}),
    access: (resourceType) => {
      const named = scopes.filter((s) => s.resourceType === resourceType);
      if (named.length === 0) return 'none';
      return named.some((s) => !s.readOnly) ? 'full' : 'read';
    },
  };
}

function normalise(permissions: string): string {
  switch (permissions) {
    case '*':
      return 'cruds';
    case 'read':
      return 'rs';
    case 'write':
      return 'cud';
    default:
      return permissions;
  }
}

/**
 * 403 when the token's scopes do not allow `requested`, naming the type and interaction
 * (Medplum itself says only "Forbidden"). The outcome's id makes the status 403 inside
 * batch responses too.
 */
export function scopeRefusal(grant: ScopeGrant, requested: RequestedInteraction, resource?: Resource): HttpError | undefined {
  const access = grant.access(requested.resourceType);
  if (access === 'full' || (access === 'read' && READ_INTERACTIONS.has(requested.interaction))) {
    return claimRefusal(grant, requested, resource);
  }
  const why = access === 'none' ? `grant no access to ${requested.resourceType}` : `make ${requested.resourceType} read-only`;
  return forbidden(`${requested.interaction} on ${requested.resourceType} (the token's scopes "${grant.scope ?? ''}" ${why})`);
}

/**
 * Medplum validates a claimed profile by reading its StructureDefinition as the caller, so a
 * write claiming a profile is 403 when the token cannot read StructureDefinition (checked
 * against Medplum server 5.0.10 with per-type scopes).
 */
function claimRefusal(grant: ScopeGrant, requested: RequestedInteraction, resource: Resource | undefined): HttpError | undefined {
  if ((requested.interaction !== 'create' && requested.interaction !== 'update') || !resource?.meta?.profile?.length) return undefined;
  if (grant.access('StructureDefinition') !== 'none') return undefined;
  return forbidden(
    `${requested.interaction} on ${requested.resourceType} claiming ${resource.meta.profile.join(', ')} (the token's scopes "${grant.scope ?? ''}" cannot read StructureDefinition, which validating the claim reads)`,
  );
}

function forbidden(text: string): HttpError {
  return new HttpError(403, {
    resourceType: 'OperationOutcome',
    id: 'forbidden',
    issue: [
      {
        severity: 'error',
        code: 'forbidden',
        details: { text: `Forbidden: ${text}` },
      },
    ],
  });
}
