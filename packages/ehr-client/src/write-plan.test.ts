import type { Bundle, CapabilityStatement, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { readCapabilities } from './capabilities';
import { entryResults, planSync, type SyncIdentity } from './sync-plan';
import { groupWrites, type OrderItem } from './write-order';
import { decideWriteStrategy, writeSettingsFrom } from './write-strategy';

const statement = (over: Partial<CapabilityStatement['rest'] extends (infer R)[] | undefined ? R : never> = {}): CapabilityStatement => ({
  resourceType: 'CapabilityStatement',
  status: 'active',
  date: '2026-01-01',
  kind: 'instance',
  fhirVersion: '4.0.1',
  format: ['json'],
  rest: [
    {
      mode: 'server',
      interaction: [{ code: 'transaction' }, { code: 'batch' }],
      resource: [
        {
          type: 'Patient',
          interaction: [{ code: 'create' }, { code: 'update' }],
          conditionalCreate: true,
          searchParam: [{ name: 'identifier', type: 'token' }],
        },
        {
          type: 'AdverseEvent',
          interaction: [{ code: 'create' }],
          conditionalCreate: true,
          searchParam: [{ name: 'subject', type: 'reference' }],
        },
        { type: 'Provenance', interaction: [{ code: 'create' }], searchParam: [{ name: 'patient', type: 'reference' }] },
        { type: 'Observation', interaction: [{ code: 'read' }] },
      ],
      searchParam: [{ name: '_tag', type: 'token' }],
      ...over,
    },
  ],
});

describe('capabilities and strategy', () => {
  it('reads interactions and search parameters, common ones included', () => {
    const caps = readCapabilities(statement());
    expect(caps.transaction).toBe(true);
    expect(caps.types.get('AdverseEvent')?.searchParams.has('_tag')).toBe(true);
    expect(caps.types.get('AdverseEvent')?.searchParams.has('identifier')).toBe(false);
  });

  it('chooses identity per type from the EHR search parameters, and keeps back what it cannot take', () => {
    const strategy = decideWriteStrategy(readCapabilities(statement()), writeSettingsFrom({}));
    expect(strategy.mode).toBe('transaction');
    expect(strategy.maxEntries).toBe(8);
    expect(strategy.forType('Patient')).toMatchObject({ identity: 'identifier', conditionalCreate: true });
    expect(strategy.forType('AdverseEvent')).toMatchObject({ identity: 'tag', conditionalCreate: true });
    // No conditional create stated: unconditional, its id recorded at once.
    expect(strategy.forType('Provenance')).toMatchObject({ identity: 'tag', conditionalCreate: false });
    expect(strategy.forType('Observation').keptBack).toMatch(/neither create nor update/);
    expect(strategy.forType('Goal').keptBack).toMatch(/CapabilityStatement/);
    const limited = decideWriteStrategy(readCapabilities(statement()), writeSettingsFrom({ EHR_RESOURCE_TYPES: 'Patient' }));
    expect(limited.forType('AdverseEvent').keptBack).toBe('not in EHR_RESOURCE_TYPES');
  });

  it('auto falls back to batch, then single writes; a forced mode the EHR does not state is warned about', () => {
    const noTx = readCapabilities(statement({ interaction: [{ code: 'batch' }] }));
    expect(decideWriteStrategy(noTx, writeSettingsFrom({})).mode).toBe('batch');
    const none = readCapabilities(statement({ interaction: [] }));
    expect(decideWriteStrategy(none, writeSettingsFrom({})).mode).toBe('single');
    expect(decideWriteStrategy(none, writeSettingsFrom({})).maxEntries).toBe(1);
    expect(decideWriteStrategy(none, writeSettingsFrom({ EHR_WRITE_MODE: 'transaction' })).warnings).toHaveLength(1);
  });
});

describe('groupWrites', () => {
  const item = (key: string, ...dependsOn: string[]): OrderItem => ({ key, dependsOn });

  it('writes a resource before what references it, in chunks within the limit', () => {
    const items = [item('Obs/1', 'Patient/p'), item('Obs/2', 'Patient/p'), item('Patient/p'), item('Obs/3', 'Obs/1')];
    const groups = groupWrites(items, { mode: 'transaction', maxEntries: 2 });
    const order = groups.flatMap((g) => g.keys);
    expect(order.indexOf('Patient/p')).toBeLessThan(order.indexOf('Obs/1'));
    expect(order.indexOf('Obs/1')).toBeLessThan(order.indexOf('Obs/3'));
    expect(groups.every((g) => g.keys.length <= 2)).toBe(true);
    expect(order.sort()).toEqual(items.map((i) => i.key).sort());
  });

  it('never puts a resource and one it references in the same batch', () => {
    const groups = groupWrites([item('Patient/p'), item('Obs/1', 'Patient/p'), item('Obs/2')], { mode: 'batch', maxEntries: 8 });
    expect(groups.map((g) => g.keys)).toEqual([['Patient/p'], ['Obs/1', 'Obs/2']]);
  });

  it('keeps a reference cycle in one transaction, and breaks it open for single writes', () => {
    const cycle = [item('CarePlan/c', 'Procedure/x'), item('Procedure/x', 'CarePlan/c')];
    expect(groupWrites(cycle, { mode: 'transaction', maxEntries: 8 }).map((g) => g.keys)).toEqual([['CarePlan/c', 'Procedure/x']]);
    const single = groupWrites(cycle, { mode: 'single', maxEntries: 8 });
    expect(single.map((g) => g.keys)).toEqual([['CarePlan/c'], ['Procedure/x']]);
    expect(single[0]?.stubs.get('CarePlan/c')).toEqual(new Set(['Procedure/x']));
  });

  it('puts a resource that must be created alone in a request of its own', () => {
    const groups = groupWrites([item('A/1'), { key: 'B/1', dependsOn: [], alone: true }, item('A/2')], {
      mode: 'transaction',
      maxEntries: 8,
    });
    expect(groups.map((g) => g.keys)).toEqual([['A/1'], ['B/1'], ['A/2']]);
  });
});

describe('planSync for strict EHRs', () => {
  const patient: Patient = { resourceType: 'Patient', id: 'p', identifier: [{ system: 'h', value: '1' }] };
  const obs: Observation = {
    resourceType: 'Observation',
    id: 'o',
    identifier: [{ system: 'ours', value: 'o' }],
    status: 'final',
    code: { text: 'x' },
    subject: { reference: 'Patient/p' },
    encounter: { reference: 'Encounter/e' },
    partOf: [{ reference: 'Procedure/x' }],
  };
  const syncIdentityOf = (r: Resource): SyncIdentity =>
    r.resourceType === 'Patient'
      ? { by: 'identifier', system: 'h', value: '1' }
      : r.resourceType === 'Observation'
        ? { by: 'tag', system: 'ours', code: 'o' }
        : { by: 'none' };

  it('finds by _tag and adds the tag, points at kept-back resources by identifier, drops a stub reference', () => {
    const plan = planSync({
      resources: [{ resource: obs, version: 1 }],
      syncIdentityOf,
      existing: new Map(),
      knownEhrCopies: new Map([['Patient/p', { reference: 'Patient/99', version: 'v1' }]]),
      keptBack: new Map([['Encounter/e', { system: 'ours', value: 'e' }]]),
      stubs: new Map([['Observation/o', new Set(['Procedure/x'])]]),
    });
    const entry = plan.bundle?.entry?.[0];
    expect(entry?.request?.ifNoneExist).toBe('_tag=ours%7Co');
    const sent = entry?.resource as Observation;
    expect(sent.meta?.tag).toEqual([{ system: 'ours', code: 'o' }]);
    expect(sent.subject).toEqual({ reference: 'Patient/99' });
    expect(sent.encounter).toEqual({ identifier: { system: 'ours', value: 'e' } });
    expect(sent.partOf).toBeUndefined();
    expect(plan.resources[0]?.stub).toBe(true);
  });

  it('a type the EHR cannot search is created without If-None-Exist', () => {
    const plan = planSync({
      resources: [{ resource: { resourceType: 'Basic', id: 'b', code: { text: 'x' } }, version: 1 }],
      syncIdentityOf,
      existing: new Map(),
      knownEhrCopies: new Map(),
    });
    expect(plan.bundle?.entry?.[0]?.request).toEqual({ method: 'POST', url: 'Basic' });
  });

  it('checks a 200 transaction-response entry by entry', () => {
    const plan = planSync({
      resources: [
        { resource: patient, version: 1, createOnly: true },
        { resource: { ...obs, encounter: undefined, partOf: undefined }, version: 1 },
      ],
      syncIdentityOf,
      existing: new Map(),
      knownEhrCopies: new Map(),
    });
    const response: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction-response',
      entry: [
        { response: { status: '201 Created', location: 'Patient/99/_history/3f2a' } },
        {
          response: {
            status: '400',
            outcome: {
              resourceType: 'OperationOutcome',
              issue: [{ severity: 'error', code: 'invalid', diagnostics: 'Unknown search parameter' }],
            },
          },
        },
      ],
    };
    const [p, o] = entryResults(plan, response);
    expect(p).toMatchObject({ ok: { ehrReference: 'Patient/99', ehrVersion: '3f2a' }, matchedExisting: false });
    expect(o).toMatchObject({ localReference: 'Observation/o', refused: 'Unknown search parameter', status: '400' });
  });
});
