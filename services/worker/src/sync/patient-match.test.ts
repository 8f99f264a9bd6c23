import { decideWriteStrategy, readCapabilities, writeSettingsFrom } from '@kap/ehr-client';
import type { CapabilityStatement, Observation, Patient } from '@medplum/fhirtypes';
import { channelRows } from '../ehr-check';
import { patientRecheckDelay } from '../units/ehr-sync/processor';
import { syncIdentityOf } from './sync-identity';
import { keptBackReferences } from './sync-patient';

const statement: CapabilityStatement = {
  resourceType: 'CapabilityStatement',
  status: 'active',
  date: '2026-01-01',
  kind: 'instance',
  fhirVersion: '4.0.1',
  format: ['json'],
  rest: [
    {
      mode: 'server',
      resource: [
        { type: 'Patient', interaction: [{ code: 'read' }, { code: 'search-type' }], searchParam: [{ name: 'identifier', type: 'token' }] },
        {
          type: 'Observation',
          interaction: [{ code: 'create' }, { code: 'search-type' }],
          conditionalCreate: false,
          searchParam: [{ name: 'identifier', type: 'token' }],
        },
        {
          type: 'QuestionnaireResponse',
          interaction: [{ code: 'create' }],
          conditionalCreate: false,
          searchParam: [{ name: 'identifier', type: 'token' }],
        },
      ],
    },
  ],
};
const strategy = decideWriteStrategy(readCapabilities(statement), writeSettingsFrom({ EHR_OBSERVATION_CATEGORIES: 'vital-signs' }));

const patient: Patient = {
  resourceType: 'Patient',
  id: 'p1',
  identifier: [{ system: 'urn:oid:2.16.840.1.113883.19.5.99999.1', value: 'MRN-1' }],
};
const lab: Observation = {
  resourceType: 'Observation',
  id: 'lab',
  status: 'final',
  code: { text: 'lab' },
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
  identifier: [{ system: 'https://kap-adapter.org/fhir/sid/resource', value: 'lab' }],
};

describe('the sync planner against an EHR that may not create Patients', () => {
  it('finds a create that is not conditional by its identifier all the same, so a retry searches before it writes', () => {
    const obs: Observation = { ...lab, category: [] };
    expect(syncIdentityOf(obs, strategy.forType('Observation'))).toEqual({
      by: 'identifier',
      system: 'https://kap-adapter.org/fhir/sid/resource',
      value: 'lab',
    });
  });

  it('references the matched Patient by its EHR id, not logically; a kept-back Observation category logically', () => {
    const refs = keptBackReferences([patient, lab], strategy);
    expect(refs.has('Patient/p1')).toBe(false);
    expect(refs.get('Observation/lab')).toEqual({ system: 'https://kap-adapter.org/fhir/sid/resource', value: 'lab' });
  });

  it('shows per type what goes where, the v2 column only once HL7_OUT_HOST is set', () => {
    const rows = channelRows(strategy, { observationCategories: ['vital-signs'] }, 'engine');
    const row = (type: string) => rows.find((r) => r.type.startsWith(type));
    expect(row('Patient')?.fhir).toMatch(/^matched by the hospital's identifier/);
    expect(row('Observation')).toEqual({
      type: 'Observation',
      fhir: 'create only (no update: later revisions refused); identifier searched before each create (no conditional create)',
      v2: 'ORU^R01',
      keptBack: 'categories other than vital-signs',
    });
    expect(row('CarePlan')).toMatchObject({ fhir: '-', keptBack: "not in the EHR's CapabilityStatement" });
    expect(channelRows(strategy, {}).every((r) => r.v2 === '-')).toBe(true);
  });
});

describe('rechecking for a Patient the EHR has not got yet', () => {
  it('waits the base interval at first, then about as long as it has waited, at most 64 times the base', () => {
    expect(patientRecheckDelay(1000, 0)).toBe(1000);
    expect(patientRecheckDelay(1000, 500)).toBe(1000);
    expect(patientRecheckDelay(1000, 5000)).toBe(5000);
    expect(patientRecheckDelay(1000, 10_000_000)).toBe(64_000);
  });
});
