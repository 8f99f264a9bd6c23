import type { Bundle, Observation, OperationOutcome } from '@medplum/fhirtypes';
import { sandboxPolicyFromEnv } from './fhir/policy';
import type { RunningSandbox } from './start';
import { startSandbox } from './start';
import { fhirClient } from './testing/fhir-fetch';

const BP = 'http://hl7.org/fhir/StructureDefinition/bp';
const HEART_RATE = 'http://hl7.org/fhir/StructureDefinition/heartrate';
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const vitalSigns = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }];

/** A valid blood-pressure panel (LOINC 85354-9 with systolic 8480-6 and diastolic 8462-4). */
const bloodPressure = (profile?: string): Observation => ({
  resourceType: 'Observation',
  ...(profile ? { meta: { profile: [profile] } } : {}),
  status: 'final',
  category: vitalSigns,
  code: { coding: [{ system: LOINC, code: '85354-9', display: 'Blood pressure panel with all children optional' }] },
  subject: { display: 'Synthetic patient' },
  effectiveDateTime: '2025-01-15T10:00:00Z',
  component: [
    { code: { coding: [{ system: LOINC, code: '8480-6' }] }, valueQuantity: { value: 120, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' } },
    { code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: { value: 80, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' } },
  ],
});

const heartRate = (withValue = true): Observation => ({
  resourceType: 'Observation',
  meta: { profile: [HEART_RATE] },
  status: 'final',
  category: vitalSigns,
  code: { coding: [{ system: LOINC, code: '8867-4', display: 'Heart rate' }] },
  subject: { display: 'Synthetic patient' },
  effectiveDateTime: '2025-01-15T10:00:00Z',
  ...(withValue ? { valueQuantity: { value: 72, unit: 'beats/minute', system: UCUM, code: '/min' } } : {}),
});

/** What Medplum server 5.0.10 answered to a valid BP panel claiming the bp profile (tracing extension left out). */
const MEDPLUM_BP_REFUSAL: OperationOutcome = {
  resourceType: 'OperationOutcome',
  issue: [
    {
      severity: 'error',
      code: 'structure',
      details: { text: "Incorrect number of values provided for slice 'SystolicBP': expected 1..1, but found 0" },
      expression: ['Observation.component'],
    },
    {
      severity: 'error',
      code: 'structure',
      details: { text: "Incorrect number of values provided for slice 'DiastolicBP': expected 1..1, but found 0" },
      expression: ['Observation.component'],
    },
  ],
};

describe('claimed profiles are validated as Medplum server 5.0.10 validates them', () => {
  let server: RunningSandbox;
  let fhir: ReturnType<typeof fhirClient>;
  beforeAll(async () => {
    server = await startSandbox({ port: 0 });
    fhir = fhirClient(server.url);
  });
  afterAll(() => server.close());

  test('a valid BP panel claiming the bp profile is refused 400 with that server outcome; without the claim it is taken', async () => {
    const refused = await fhir.post<OperationOutcome>('Observation', bloodPressure(BP));
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual(MEDPLUM_BP_REFUSAL);
    expect(server.sandbox.stats().resources).toEqual({});
    expect((await fhir.post('Observation', bloodPressure())).status).toBe(201);
  });

  test('a heart rate claiming the heartrate profile is taken; one that breaks the profile is refused', async () => {
    expect((await fhir.post('Observation', heartRate())).status).toBe(201);
    const noValue = await fhir.post<OperationOutcome>('Observation', heartRate(false));
    expect(noValue.status).toBe(400);
    expect(JSON.stringify(noValue.body.issue)).toContain('vs-2');
    const { meta: _claim, ...unclaimed } = heartRate(false);
    expect((await fhir.post('Observation', unclaimed)).status).toBe(201);
  });

  test('an unknown profile is not checked, as on that server', async () => {
    const claim = { ...bloodPressure(), meta: { profile: ['http://example.org/StructureDefinition/unknown'] } };
    expect((await fhir.post('Observation', claim)).status).toBe(201);
  });

  test('inside a transaction the claim refuses the whole transaction', async () => {
    const before = server.sandbox.stats().resources;
    const tx: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: heartRate(), request: { method: 'POST', url: 'Observation' } },
        { resource: bloodPressure(BP), request: { method: 'POST', url: 'Observation' } },
      ],
    };
    const res = await fhir.post<OperationOutcome>('', tx);
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain("slice 'SystolicBP'");
    expect(server.sandbox.stats().resources).toEqual(before);
  });
});

describe('SANDBOX_PROFILE_VALIDATION', () => {
  test('off takes the BP panel with its claim', async () => {
    const server = await startSandbox({ port: 0, ...sandboxPolicyFromEnv({ SANDBOX_PROFILE_VALIDATION: 'off' }) });
    try {
      expect((await fhirClient(server.url).post('Observation', bloodPressure(BP))).status).toBe(201);
    } finally {
      await server.close();
    }
  });

  test('is read from the environment and checked', () => {
    expect(sandboxPolicyFromEnv({ SANDBOX_PROFILE_VALIDATION: 'medplum-5.0.10' })).toMatchObject({ profileValidation: 'medplum-5.0.10' });
    expect(() => sandboxPolicyFromEnv({ SANDBOX_PROFILE_VALIDATION: 'lenient' })).toThrow(/SANDBOX_PROFILE_VALIDATION/);
  });
});
