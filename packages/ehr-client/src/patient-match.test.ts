import type { CapabilityStatement, Observation, Resource } from '@medplum/fhirtypes';
import { readCapabilities } from './capabilities';
import { serverStatement } from './test-statement';
import { planSync, type SyncIdentity } from './sync-plan';
import { decideWriteStrategy, observationCategories, writeSettingsFrom } from './write-strategy';

const OBSERVATION_CATEGORY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/observation-category';

/** An EHR as most hospitals run: Patient read and search only; vital signs and notes created; no conditional create, no transactions. */
const vitalsAndNotes = serverStatement({
  resource: [
    { type: 'Patient', interaction: [{ code: 'read' }, { code: 'search-type' }], searchParam: [{ name: 'identifier', type: 'token' }] },
    {
      type: 'Observation',
      interaction: [{ code: 'create' }, { code: 'read' }, { code: 'search-type' }],
      conditionalCreate: false,
      searchParam: [{ name: 'identifier', type: 'token' }],
    },
    {
      type: 'DocumentReference',
      interaction: [{ code: 'create' }, { code: 'read' }, { code: 'update' }, { code: 'search-type' }],
      conditionalCreate: false,
      searchParam: [{ name: 'identifier', type: 'token' }],
    },
  ],
});

const observation = (id: string, category: string): Observation => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  category: [{ coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: category }] }],
  code: { text: id },
  subject: { reference: 'Patient/p1' },
  identifier: [{ system: 'urn:kap:resource', value: id }],
});

describe('an EHR that may not create Patients', () => {
  it('matches the Patient instead of creating it, from the CapabilityStatement alone', () => {
    const strategy = decideWriteStrategy(readCapabilities(vitalsAndNotes), writeSettingsFrom({}));
    expect(strategy.patients).toBe('match');
    expect(strategy.mode).toBe('single');
    expect(strategy.forType('Observation')).toMatchObject({ identity: 'identifier', conditionalCreate: false, update: false });
    expect(strategy.warnings).toEqual([]);
  });

  it('matches it when hospital IT leaves Patient out of EHR_RESOURCE_TYPES, even where the EHR could create one', () => {
    const withCreate: CapabilityStatement = {
      ...vitalsAndNotes,
      rest: [
        {
          mode: 'server',
          resource: [
            {
              type: 'Patient',
              interaction: [{ code: 'create' }],
              conditionalCreate: true,
              searchParam: [{ name: 'identifier', type: 'token' }],
            },
          ],
        },
      ],
    };
    expect(decideWriteStrategy(readCapabilities(withCreate), writeSettingsFrom({})).patients).toBe('create');
    expect(
      decideWriteStrategy(readCapabilities(withCreate), writeSettingsFrom({ EHR_RESOURCE_TYPES: 'Observation,DocumentReference' }))
        .patients,
    ).toBe('match');
  });

  it('warns when the Patient could be neither created nor found', () => {
    const noSearch: CapabilityStatement = {
      ...vitalsAndNotes,
      rest: [{ mode: 'server', resource: [{ type: 'Patient', interaction: [{ code: 'read' }] }] }],
    };
    expect(decideWriteStrategy(readCapabilities(noSearch), writeSettingsFrom({})).warnings.join()).toMatch(/cannot be matched/);
  });
});

describe('Observation categories an EHR takes', () => {
  const strategy = decideWriteStrategy(
    readCapabilities(vitalsAndNotes),
    writeSettingsFrom({ EHR_OBSERVATION_CATEGORIES: 'vital-signs, survey' }),
  );

  it('sends the categories listed and keeps back the rest, with the reason', () => {
    expect(strategy.keptBackResource(observation('hr', 'vital-signs'))).toBeUndefined();
    expect(strategy.keptBackResource(observation('phq9', 'survey'))).toBeUndefined();
    expect(strategy.keptBackResource(observation('lab', 'laboratory'))).toBe('category laboratory not in EHR_OBSERVATION_CATEGORIES');
    const uncategorised: Observation = { ...observation('x', 'vital-signs'), category: [] };
    expect(strategy.keptBackResource(uncategorised)).toMatch(/\(none\) not in/);
  });

  it('takes every category when unset, and keeps back by type first', () => {
    const all = decideWriteStrategy(readCapabilities(vitalsAndNotes), writeSettingsFrom({}));
    expect(all.keptBackResource(observation('lab', 'laboratory'))).toBeUndefined();
    expect(
      all.keptBackResource({ resourceType: 'CarePlan', id: 'c', status: 'active', intent: 'plan', subject: { reference: 'Patient/p1' } }),
    ).toMatch(/CapabilityStatement/);
  });

  it('reads categories of the observation-category system only', () => {
    const other: Observation = {
      ...observation('x', 'vital-signs'),
      category: [{ coding: [{ system: 'urn:local', code: 'vital-signs' }] }],
    };
    expect(observationCategories(other)).toEqual([]);
    expect(observationCategories(observation('y', 'survey'))).toEqual(['survey']);
  });
});

describe('planning creates without conditional create', () => {
  const syncIdentityOf = (r: Resource): SyncIdentity => {
    const id = (r as Observation).identifier?.[0];
    return id?.system && id.value ? { by: 'identifier', system: id.system, value: id.value } : { by: 'none' };
  };
  const matched = new Map([['Patient/p1', { reference: 'Patient/ehr-77', version: '3' }]]);

  it('sends a plain create (no If-None-Exist the EHR would ignore) referencing the matched Patient by its EHR id', () => {
    const plan = planSync({
      resources: [{ resource: observation('hr', 'vital-signs'), version: 1 }],
      syncIdentityOf,
      existing: new Map(),
      knownEhrCopies: matched,
      conditionalCreate: () => false,
    });
    const entry = plan.bundle?.entry?.[0];
    expect(entry?.request).toEqual({ method: 'POST', url: 'Observation' });
    expect((entry?.resource as Observation).subject).toEqual({ reference: 'Patient/ehr-77' });
  });

  it('keeps If-None-Exist where the EHR honours it', () => {
    const plan = planSync({
      resources: [{ resource: observation('hr', 'vital-signs'), version: 1 }],
      syncIdentityOf,
      existing: new Map(),
      knownEhrCopies: matched,
    });
    expect(plan.bundle?.entry?.[0]?.request?.ifNoneExist).toBe('identifier=urn%3Akap%3Aresource%7Chr');
  });

  it('records a copy an earlier attempt left (found by the search before the create) instead of creating again', () => {
    const local = observation('hr', 'vital-signs');
    const left = { ...local, id: 'ehr-obs-1', subject: { reference: 'Patient/ehr-77' }, meta: { versionId: '1' } };
    const plan = planSync({
      resources: [{ resource: local, version: 1, createOnly: true }],
      syncIdentityOf,
      existing: new Map([['Observation|identifier|urn:kap:resource|hr', { resource: left }]]),
      knownEhrCopies: matched,
      conditionalCreate: () => false,
    });
    expect(plan.bundle).toBeUndefined();
    expect(plan.resources[0]).toMatchObject({ action: 'unchanged', ehrReference: 'Observation/ehr-obs-1', ehrVersion: '1' });
  });
});
