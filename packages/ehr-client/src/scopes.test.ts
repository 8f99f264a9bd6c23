import { readCapabilities } from './capabilities';
import { serverStatement } from './test-statement';
import { describeShortfall, formatScopes, scopeNeeds, scopeShortfall, scopeStyleFor, type ScopeNeeds } from './scopes';
import { decideWriteStrategy, writeSettingsFrom } from './write-strategy';

const statement = serverStatement({
  interaction: [{ code: 'transaction' }],
  resource: [
    {
      type: 'Patient',
      interaction: [{ code: 'create' }, { code: 'update' }, { code: 'read' }],
      conditionalCreate: true,
      searchParam: [{ name: 'identifier', type: 'token' }],
    },
    { type: 'Observation', interaction: [{ code: 'create' }, { code: 'read' }], searchParam: [{ name: 'identifier', type: 'token' }] },
    { type: 'Provenance', interaction: [{ code: 'create' }] },
    { type: 'CarePlan', interaction: [{ code: 'read' }] },
  ],
});

const strategy = (types?: string) => decideWriteStrategy(readCapabilities(statement), writeSettingsFrom({ EHR_RESOURCE_TYPES: types }));
const needs = (entries: Record<string, string>): ScopeNeeds =>
  new Map(Object.entries(entries).map(([type, letters]) => [type, new Set([...letters] as ('c' | 'r' | 'u' | 's')[])]));

describe('scope needs from the write plan', () => {
  it('asks per type for exactly the interactions the plan uses', () => {
    const result = scopeNeeds(strategy(), { sends: ['Patient', 'Observation', 'Provenance', 'CarePlan', 'Goal'], reads: ['Encounter'] });
    expect(Object.fromEntries([...result].map(([t, s]) => [t, [...s].sort().join('')]))).toEqual({
      // Patient: created, updated (A08), found by identifier
      Patient: 'crsu',
      // Observation: no update interaction listed, so never updated
      Observation: 'crs',
      // Provenance: no search at all: created once, its id recorded, read back
      Provenance: 'cr',
      Encounter: 'rs',
    });
    // CarePlan and Goal are kept back (neither create nor update; not listed): nothing asked.
    expect(result.has('CarePlan')).toBe(false);
    expect(result.has('Goal')).toBe(false);
  });

  it('asks nothing for a type hospital IT keeps back, and only search and read for a match-only type', () => {
    const result = scopeNeeds(strategy('Patient,Observation'), { sends: ['Patient', 'Observation', 'Provenance'], matchOnly: ['Patient'] });
    expect([...(result.get('Patient') ?? [])].sort().join('')).toBe('rs');
    expect(result.has('Provenance')).toBe(false);
  });

  it('formats one v2 scope per type with permissions in SMART order, and v1 as read, write or *', () => {
    const n = needs({ Patient: 'surc', Observation: 'cr', Encounter: 'sr', Subscription: 'c' });
    expect(formatScopes(n, 'v2')).toBe('system/Encounter.rs system/Observation.cr system/Patient.crus system/Subscription.c');
    expect(formatScopes(n, 'v1')).toBe('system/Encounter.read system/Observation.* system/Patient.* system/Subscription.write');
  });

  it('uses v2 only where the SMART configuration lists permission-v2', () => {
    expect(scopeStyleFor({ capabilities: ['permission-v1', 'permission-v2'] })).toBe('v2');
    expect(scopeStyleFor({ capabilities: ['permission-v1'] })).toBe('v1');
    expect(scopeStyleFor(undefined)).toBe('v1');
    expect(scopeStyleFor('not json')).toBe('v1');
  });
});

describe('a grant against the needs', () => {
  const need = needs({ Patient: 'crus', Observation: 'crs' });

  it('finds the wildcard read/write pair read-only where the first scope decides', () => {
    const short = scopeShortfall(need, 'system/*.read system/*.write');
    expect(short.map(describeShortfall)).toEqual([
      'Observation: no create (decided by system/*.read)',
      'Patient: no create, update (decided by system/*.read)',
    ]);
    expect(scopeShortfall(need, 'system/*.rs system/*.cud')).toHaveLength(2);
  });

  it('accepts the scopes that write on such a server', () => {
    for (const ok of ['system/*.*', 'system/*.cruds', 'system/*.write system/*.read', 'system/Patient.crus system/Observation.cruds']) {
      expect(scopeShortfall(need, ok)).toEqual([]);
    }
    // What we ask for ourselves always covers what we need.
    expect(scopeShortfall(need, formatScopes(need, 'v2'))).toEqual([]);
    expect(scopeShortfall(need, formatScopes(need, 'v1'))).toEqual([]);
  });

  it('names the type a per-type grant leaves out, and ignores scopes that are not SMART resource scopes', () => {
    const short = scopeShortfall(need, 'openid fhirUser system/Patient.cruds launch');
    expect(short).toEqual([{ type: 'Observation', missing: ['c', 'r', 's'] }]);
    expect(describeShortfall(short[0] as (typeof short)[number])).toBe('Observation: no create, read, search (no scope names it)');
  });

  it('reads a per-type read-only scope before a wildcard write as read-only for that type', () => {
    expect(scopeShortfall(need, 'system/Observation.rs system/*.cruds').map(describeShortfall)).toEqual([
      'Observation: no create (decided by system/Observation.rs)',
    ]);
  });
});
