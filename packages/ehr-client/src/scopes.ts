import type { WriteStrategy } from './write-strategy';

/**
 * The token scopes the adapter asks the EHR for: exactly the interactions it uses, per
 * resource type, in SMART v2 syntax where the EHR's `.well-known/smart-configuration`
 * lists `permission-v2`, else v1. Asking for `system/*.read system/*.write` is both more
 * than we need and, on some servers, less: Medplum lets the first scope matching a type
 * decide, so that pair makes every type read-only.
 * @see https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html
 * @see https://hl7.org/fhir/smart-app-launch/backend-services.html#scopes
 */

/** The SMART v2 permissions the adapter uses (never `d`: it deletes nothing). */
export type ScopeInteraction = 'c' | 'r' | 'u' | 's';
export type ScopeStyle = 'v1' | 'v2';

/** Per resource type, the interactions needed. */
export type ScopeNeeds = ReadonlyMap<string, ReadonlySet<ScopeInteraction>>;

const V2_ORDER = ['c', 'r', 'u', 'd', 's'] as const;
const INTERACTION_NAMES: Readonly<Record<ScopeInteraction, string>> = { c: 'create', r: 'read', u: 'update', s: 'search' };

export function interactionName(interaction: ScopeInteraction): string {
  return INTERACTION_NAMES[interaction];
}

export interface ScopeNeedsInput {
  /** The types the adapter may send; each is planned with the strategy (kept-back types need nothing). */
  readonly sends: readonly string[];
  /** Types only read (and searched), e.g. the Patient and Encounter a notification names. */
  readonly reads?: readonly string[];
  /** Types the adapter creates and reads outside the sync (e.g. `ehr:subscribe`'s Subscription). */
  readonly manages?: readonly string[];
  /** Types never created nor updated here, only found (a hospital that does not let us create Patients). */
  readonly matchOnly?: readonly string[];
}

/**
 * The interactions each type needs under a write strategy: create where it is sent and
 * may be created, update where the EHR takes updates (a later revision), read to re-read
 * after a 409/412 and for reconciliation, search where its identity is found by search.
 */
export function scopeNeeds(strategy: WriteStrategy, input: ScopeNeedsInput): ScopeNeeds {
  const needs = new Map<string, Set<ScopeInteraction>>();
  const add = (type: string, ...interactions: ScopeInteraction[]): void => {
    const set = needs.get(type) ?? new Set<ScopeInteraction>();
    for (const i of interactions) set.add(i);
    needs.set(type, set);
  };
  const matchOnly = new Set(input.matchOnly ?? []);
  for (const type of input.sends) {
    const plan = strategy.forType(type);
    if (plan.keptBack) continue;
    add(type, 'r');
    if (!matchOnly.has(type)) add(type, 'c');
    if (plan.update && !matchOnly.has(type)) add(type, 'u');
    if (plan.identity !== 'none' || plan.tagSearch || matchOnly.has(type)) add(type, 's');
  }
  for (const type of input.reads ?? []) add(type, 'r', 's');
  for (const type of input.manages ?? []) add(type, 'c', 'r', 'u', 's');
  return needs;
}

/**
 * The scope string for these needs: one scope per type, so a server that lets the first
 * matching scope decide sees the whole permission at once. v1 has no create-only or
 * search-only permission: `.read` covers read and search, `.write` create and update, and
 * a type needing both gets `.*`.
 */
export function formatScopes(needs: ScopeNeeds, style: ScopeStyle): string {
  const scopes: string[] = [];
  for (const [type, interactions] of [...needs].sort(([a], [b]) => a.localeCompare(b))) {
    if (interactions.size === 0) continue;
    if (style === 'v2') {
      scopes.push(`system/${type}.${V2_ORDER.filter((p) => interactions.has(p as ScopeInteraction)).join('')}`);
      continue;
    }
    const reads = interactions.has('r') || interactions.has('s');
    const writes = interactions.has('c') || interactions.has('u');
    scopes.push(`system/${type}.${reads && writes ? '*' : writes ? 'write' : 'read'}`);
  }
  return scopes.join(' ');
}

/** v2 where the EHR's SMART configuration lists `permission-v2`, else v1, which every SMART server reads. */
export function scopeStyleFor(smartConfiguration: unknown): ScopeStyle {
  if (typeof smartConfiguration !== 'object' || smartConfiguration === null) return 'v1';
  const capabilities = (smartConfiguration as { capabilities?: unknown }).capabilities;
  return Array.isArray(capabilities) && capabilities.includes('permission-v2') ? 'v2' : 'v1';
}

interface ParsedScope {
  readonly term: string;
  readonly type: string;
  readonly permissions: ReadonlySet<string>;
}

const SCOPE_FORMAT = /^(?:system|user)\/([A-Za-z]+|\*)\.(read|write|\*|c?r?u?d?s?)(?:\?.*)?$/;

/** SMART `system/` and `user/` scopes in a scope string (others, like `openid`, are ignored); v1 mapped to v2. */
function parseScopes(scope: string): ParsedScope[] {
  const parsed: ParsedScope[] = [];
  for (const term of scope.split(/\s+/).filter(Boolean)) {
    const match = SCOPE_FORMAT.exec(term);
    if (!match || match[2] === '') continue;
    const permission = match[2] as string;
    const letters = permission === 'read' ? 'rs' : permission === 'write' ? 'cud' : permission === '*' ? 'cruds' : permission;
    parsed.push({ term, type: match[1] as string, permissions: new Set(letters) });
  }
  return parsed;
}

/** One type and the interactions a scope string does not give it. */
export interface ScopeShortfall {
  readonly type: string;
  readonly missing: readonly ScopeInteraction[];
  /** The scope that decided, when one did (the first naming the type, else the first wildcard). */
  readonly decidedBy?: string;
}

/**
 * What a scope string leaves out of `needs`. A type gets what all scopes naming it (or
 * `*`) grant together, as SMART intends, except that where the first of them grants only
 * read or search the type is read-only: Medplum lets that first scope decide, so
 * `system/*.read system/*.write` writes nothing there. Reading grants this way warns
 * wherever some real server would refuse, and nowhere else.
 */
export function scopeShortfall(needs: ScopeNeeds, scope: string): ScopeShortfall[] {
  const parsed = parseScopes(scope);
  const shortfalls: ScopeShortfall[] = [];
  for (const [type, interactions] of needs) {
    const matching = [...parsed.filter((p) => p.type === type), ...parsed.filter((p) => p.type === '*')];
    const decided = matching[0];
    const granted = new Set(matching.flatMap((p) => [...p.permissions]));
    const readOnly = decided !== undefined && [...decided.permissions].every((p) => p === 'r' || p === 's');
    const missing = [...interactions].filter((i) => !granted.has(i) || (readOnly && (i === 'c' || i === 'u')));
    if (missing.length > 0) {
      shortfalls.push({ type, missing: sortInteractions(missing), ...(decided ? { decidedBy: decided.term } : {}) });
    }
  }
  return shortfalls.sort((a, b) => a.type.localeCompare(b.type));
}

/** "Observation: no create, update (decided by system/*.read)" lines for logs, dead letters and `ehr:check`. */
export function describeShortfall(shortfall: ScopeShortfall): string {
  const what = shortfall.missing.map(interactionName).join(', ');
  return `${shortfall.type}: no ${what}${shortfall.decidedBy ? ` (decided by ${shortfall.decidedBy})` : ' (no scope names it)'}`;
}

function sortInteractions(list: readonly ScopeInteraction[]): ScopeInteraction[] {
  return [...list].sort((a, b) => V2_ORDER.indexOf(a) - V2_ORDER.indexOf(b));
}
