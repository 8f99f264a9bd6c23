import type { Bundle, BundleEntry, Observation, OperationOutcome, Patient } from '@medplum/fhirtypes';
import type { RunningSandbox } from './start';
import { startSandbox } from './start';
import { fhirClient } from './testing/fhir-fetch';

const SYSTEM = 'urn:kap:test:patient';
const PATIENT_URN = 'urn:uuid:0b5f3c1e-8f2a-4c61-9d3e-7a1b2c3d4e5f';
const OBS_URN = 'urn:uuid:1c6a4d2f-9a3b-4d72-8e4f-8b2c3d4e5f60';

function patientEntry(value: string): BundleEntry {
  const resource: Patient = { resourceType: 'Patient', identifier: [{ system: SYSTEM, value }] };
  return {
    fullUrl: PATIENT_URN,
    resource,
    request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${SYSTEM}|${value}` },
  };
}

function observationEntry(): BundleEntry {
  const resource: Observation = {
    resourceType: 'Observation',
    status: 'final',
    code: { text: 'PHQ-9' },
    subject: { reference: PATIENT_URN },
  };
  return { fullUrl: OBS_URN, resource, request: { method: 'POST', url: 'Observation' } };
}

const transaction = (...entry: BundleEntry[]): Bundle => ({ resourceType: 'Bundle', type: 'transaction', entry });

describe('transaction and batch Bundles', () => {
  let server: RunningSandbox;
  let fhir: ReturnType<typeof fhirClient>;

  beforeAll(async () => {
    server = await startSandbox({ port: 0 });
    fhir = fhirClient(server.url);
  });
  afterAll(() => server.close());
  beforeEach(() => server.sandbox.reset());

  test('urn:uuid references resolve to the created ids', async () => {
    // The Observation comes first, so its reference must resolve before the Patient exists.
    const res = await fhir.post<Bundle>('', transaction(observationEntry(), patientEntry('t1')));
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('transaction-response');
    const [obsEntry, patEntry] = res.body.entry ?? [];
    expect(patEntry?.response?.status).toBe('201');
    const versionId = patEntry?.resource?.meta?.versionId;
    expect(patEntry?.response?.location).toBe(`Patient/${patEntry?.resource?.id}/_history/${versionId}`);
    expect(patEntry?.response?.etag).toBe(`W/"${versionId}"`);
    const patientId = patEntry?.resource?.id;
    const obs = await fhir.get<Observation>(`Observation/${obsEntry?.resource?.id}`);
    expect(obs.body.subject?.reference).toBe(`Patient/${patientId}`);
  });

  test('a failing last entry leaves nothing behind', async () => {
    const existing = await fhir.post<Patient>('Patient', { resourceType: 'Patient', identifier: [{ system: SYSTEM, value: 'x' }] });
    const before = server.sandbox.stats().resources;
    const res = await fhir.post<OperationOutcome>(
      '',
      transaction(patientEntry('t2'), observationEntry(), {
        resource: { ...existing.body, gender: 'female' },
        request: { method: 'PUT', url: `Patient/${existing.body.id}`, ifMatch: 'W/"99"' },
      }),
    );
    expect(res.status).toBe(412);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0]?.diagnostics).toContain('Bundle.entry[2]');
    expect(server.sandbox.stats().resources).toEqual(before);
    expect((await fhir.get<Patient>(`Patient/${existing.body.id}`)).body.gender).toBeUndefined();
    expect((await fhir.get<Bundle>(`Patient?identifier=${SYSTEM}|t2`)).body.total).toBe(0);
  });

  test('a conditional-create entry matching an existing resource makes references point to it', async () => {
    const existing = await fhir.post<Patient>('Patient', { resourceType: 'Patient', identifier: [{ system: SYSTEM, value: 't3' }] });
    const res = await fhir.post<Bundle>('', transaction(patientEntry('t3'), observationEntry()));
    expect(res.status).toBe(200);
    const [patEntry, obsEntry] = res.body.entry ?? [];
    expect(patEntry?.response?.status).toBe('200');
    expect(patEntry?.resource?.id).toBe(existing.body.id);
    const obs = await fhir.get<Observation>(`Observation/${obsEntry?.resource?.id}`);
    expect(obs.body.subject?.reference).toBe(`Patient/${existing.body.id}`);
    expect(server.sandbox.stats().resources).toEqual({ Patient: 1, Observation: 1 });
  });

  test("more than eight conditional entries are refused with Medplum server's message, and change nothing", async () => {
    const entries = Array.from({ length: 9 }, (_, i) => ({
      ...patientEntry(`many-${i}`),
      fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    }));
    const res = await fhir.post<OperationOutcome>('', transaction(...entries));
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain('Transaction requires strict isolation but has too many entries');
    expect(server.sandbox.stats().resources).toEqual({});
    const eight = await fhir.post<Bundle>('', transaction(...entries.slice(0, 8)));
    expect(eight.status).toBe(200);
    expect(server.sandbox.stats().resources).toEqual({ Patient: 8 });
  });

  test('an invalid resource in a transaction rolls back with 422', async () => {
    const bad: BundleEntry = {
      resource: { resourceType: 'Observation', status: 'final' } as Observation,
      request: { method: 'POST', url: 'Observation' },
    };
    const res = await fhir.post('', transaction(patientEntry('t4'), bad));
    expect(res.status).toBe(422);
    expect(server.sandbox.stats().resources).toEqual({});
  });

  test('a batch keeps the entries that succeeded', async () => {
    const batch: Bundle = {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: 'Patient/missing' } },
      ],
    };
    const res = await fhir.post<Bundle>('', batch);
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('batch-response');
    expect(res.body.entry?.map((e) => e.response?.status)).toEqual(['201', '404']);
    expect(server.sandbox.stats().resources).toEqual({ Patient: 1 });
  });
});
