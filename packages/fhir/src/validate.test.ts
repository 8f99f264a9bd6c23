import type { Observation } from '@medplum/fhirtypes';
import { validateResource, validationIssues, VITAL_SIGNS_PROFILES } from './validate';

const bp = (components: Observation['component']): Observation => ({
  resourceType: 'Observation',
  id: 'bp',
  meta: { profile: [VITAL_SIGNS_PROFILES.bloodPressure] },
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
  subject: { reference: 'Patient/p' },
  effectiveDateTime: '2026-03-01T09:30:00Z',
  component: components,
});
const comp = (code: string, value: number): NonNullable<Observation['component']>[number] => ({
  code: { coding: [{ system: 'http://loinc.org', code }] },
  valueQuantity: { value, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
});

describe('validateResource', () => {
  it('accepts a conformant blood pressure and returns it unchanged', () => {
    const obs = bp([comp('8480-6', 120), comp('8462-4', 80)]);
    expect(validateResource(obs)).toBe(obs);
  });

  it('still enforces the bp profile: a missing diastolic fails', () => {
    expect(() => validateResource(bp([comp('8480-6', 120), comp('8480-6', 121)]))).toThrow(/DiastolicBP/);
  });

  it('does not catch a wrong unit inside a component (a medplum limit: units come from the UCUM table)', () => {
    const wrongUnit = comp('8462-4', 80);
    wrongUnit.valueQuantity = { value: 80, unit: 'kPa', system: 'http://unitsofmeasure.org', code: 'kPa' };
    expect(validationIssues(bp([comp('8480-6', 120), wrongUnit]))).toEqual([]);
  });

  it('enforces base R4 rules and invariants', () => {
    expect(() => validateResource({ resourceType: 'Consent', status: 'active', scope: { text: 's' }, category: [{ text: 'c' }] })).toThrow(
      /ppc-1/,
    );
    expect(() => validateResource({ resourceType: 'Patient', id: 'p', foo: 1 } as never)).toThrow(/foo/);
  });

  it('checks a vital sign against its profile only when it claims it', () => {
    const heartRate: Observation = {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      valueQuantity: { value: 70, code: '/min', system: 'http://unitsofmeasure.org' },
    };
    expect(validationIssues(heartRate)).toEqual([]);
    expect(validationIssues({ ...heartRate, meta: { profile: [VITAL_SIGNS_PROFILES.heartRate] } }).length).toBeGreaterThan(0);
  });
});
