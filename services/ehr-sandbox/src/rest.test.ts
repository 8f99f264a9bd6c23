import type { Bundle, Observation, OperationOutcome, Patient } from '@medplum/fhirtypes';
import type { RunningSandbox } from './start';
import { startSandbox } from './start';
import { fhirClient } from './testing/fhir-fetch';

const SYSTEM = 'urn:kap:test:patient';
const patient = (value: string, family = 'Test'): Patient => ({
  resourceType: 'Patient',
  identifier: [{ system: SYSTEM, value }],
  name: [{ family }],
});

describe('FHIR REST interactions', () => {
  let server: RunningSandbox;
  let fhir: ReturnType<typeof fhirClient>;

  beforeAll(async () => {
    server = await startSandbox({ port: 0 });
    fhir = fhirClient(server.url);
  });
  afterAll(() => server.close());
  beforeEach(() => server.sandbox.reset());

  test('create, read, vread, update with If-Match, history, delete', async () => {
    const created = await fhir.post<Patient>('Patient', { ...patient('1'), id: 'client-chosen' });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(id).not.toBe('client-chosen');
    // Version ids are opaque UUIDs, as on Medplum: clients must send back what they got.
    const v1 = created.body.meta?.versionId as string;
    expect(v1).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(created.headers.get('etag')).toBe(`W/"${v1}"`);
    expect(created.headers.get('location')).toBe(`${server.url}/Patient/${id}/_history/${v1}`);
    expect(created.headers.get('last-modified')).toBeTruthy();
    expect(created.headers.get('content-type')).toMatch(/^application\/fhir\+json/);

    const read = await fhir.get<Patient>(`Patient/${id}`);
    expect(read.status).toBe(200);
    expect(read.headers.get('etag')).toBe(`W/"${v1}"`);

    const stale = await fhir.put(`Patient/${id}`, { ...read.body, gender: 'female' }, { 'If-Match': 'W/"0"' });
    expect(stale.status).toBe(412);
    expect((stale.body as OperationOutcome).resourceType).toBe('OperationOutcome');

    const updated = await fhir.put<Patient>(`Patient/${id}`, { ...read.body, gender: 'female' }, { 'If-Match': `W/"${v1}"` });
    expect(updated.status).toBe(200);
    const v2 = updated.body.meta?.versionId as string;
    expect(v2).not.toBe(v1);
    expect(updated.headers.get('etag')).toBe(`W/"${v2}"`);

    const replay = await fhir.put(`Patient/${id}`, { ...read.body, gender: 'male' }, { 'If-Match': `W/"${v1}"` });
    expect(replay.status).toBe(412);

    expect((await fhir.get<Patient>(`Patient/${id}/_history/${v1}`)).body.gender).toBeUndefined();
    const history = await fhir.get<Bundle>(`Patient/${id}/_history`);
    expect(history.body.type).toBe('history');
    expect(history.body.total).toBe(2);
    expect(history.body.entry?.map((e) => e.resource?.meta?.versionId)).toEqual([v2, v1]);
    // Reading history twice must not reorder it (Medplum's MemoryRepository reverses in place).
    expect((await fhir.get<Bundle>(`Patient/${id}/_history`)).body.entry?.[0]?.resource?.meta?.versionId).toBe(v2);

    expect((await fhir.delete(`Patient/${id}`)).status).toBe(200);
    expect((await fhir.get(`Patient/${id}`)).status).toBe(410);
    expect((await fhir.delete(`Patient/${id}`)).status).toBe(200);
    expect((await fhir.get('Patient/never-existed')).status).toBe(404);
  });

  test('update of an absent id is 404, as on Medplum (the CapabilityStatement says updateCreate false)', async () => {
    const res = await fhir.put<Patient>('Patient/p-upsert', { ...patient('u'), id: 'p-upsert' });
    expect(res.status).toBe(404);
    expect((await fhir.get('Patient/p-upsert')).status).toBe(404);
    expect((await fhir.put('Patient/other', { ...patient('u'), id: 'p-upsert' })).status).toBe(400);
  });

  test('with updateCreate, an update of an absent id creates it with 201', async () => {
    const lenient = await startSandbox({ port: 0, updateCreate: true });
    try {
      const res = await fhirClient(lenient.url).put<Patient>('Patient/p-upsert', { ...patient('u'), id: 'p-upsert' });
      expect(res.status).toBe(201);
      expect(res.headers.get('location')).toBe(`${lenient.url}/Patient/p-upsert/_history/${res.body.meta?.versionId}`);
    } finally {
      await lenient.close();
    }
  });

  test('conditional create is idempotent and refuses ambiguity', async () => {
    const ifNoneExist = { 'If-None-Exist': `identifier=${SYSTEM}|42` };
    const first = await fhir.post<Patient>('Patient', patient('42'), ifNoneExist);
    const second = await fhir.post<Patient>('Patient', patient('42', 'Other'), ifNoneExist);
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(second.body.name?.[0]?.family).toBe('Test');

    await fhir.post('Patient', patient('43'));
    await fhir.post('Patient', patient('43'));
    const ambiguous = await fhir.post('Patient', patient('43'), { 'If-None-Exist': `identifier=${SYSTEM}|43` });
    expect(ambiguous.status).toBe(412);

    const unknownParam = await fhir.post('Patient', patient('44'), { 'If-None-Exist': 'identifierr=x' });
    expect(unknownParam.status).toBe(400);
  });

  test('20 concurrent identical conditional creates give exactly one resource', async () => {
    const replies = await Promise.all(
      Array.from({ length: 20 }, () => fhir.post<Patient>('Patient', patient('race'), { 'If-None-Exist': `identifier=${SYSTEM}|race` })),
    );
    expect(replies.filter((r) => r.status === 201)).toHaveLength(1);
    expect(replies.filter((r) => r.status === 200)).toHaveLength(19);
    expect(new Set(replies.map((r) => r.body.id)).size).toBe(1);
    expect(server.sandbox.stats().resources).toEqual({ Patient: 1 });
  });

  test('conditional update creates then updates the match', async () => {
    const url = `Patient?identifier=${encodeURIComponent(`${SYSTEM}|cu`)}`;
    const created = await fhir.put<Patient>(url, patient('cu'));
    expect(created.status).toBe(201);
    const updated = await fhir.put<Patient>(url, { ...patient('cu'), gender: 'other' });
    expect(updated.status).toBe(200);
    expect(updated.body.id).toBe(created.body.id);
    expect(updated.headers.get('etag')).toBe(`W/"${updated.body.meta?.versionId}"`);
    expect((await fhir.put(url, patient('cu'), { 'If-Match': `W/"${created.body.meta?.versionId}"` })).status).toBe(412);
  });

  test('search by identifier (OR), _id, patient/subject, _count', async () => {
    const a = (await fhir.post<Patient>('Patient', patient('a'))).body;
    const b = (await fhir.post<Patient>('Patient', patient('b'))).body;
    await fhir.post('Patient', patient('c'));
    const obs: Observation = {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'GAD-7' },
      subject: { reference: `Patient/${a.id}` },
    };
    await fhir.post('Observation', obs);

    const or = await fhir.get<Bundle>(`Patient?identifier=${SYSTEM}|a,${SYSTEM}|b`);
    expect(or.body.type).toBe('searchset');
    expect(or.body.total).toBe(2);
    expect(or.body.entry?.[0]?.fullUrl).toMatch(new RegExp(`^${server.url}/Patient/`));
    expect((await fhir.get<Bundle>(`Patient?_id=${b.id}`)).body.entry?.[0]?.resource?.id).toBe(b.id);
    expect((await fhir.get<Bundle>(`Observation?patient=Patient/${a.id}`)).body.total).toBe(1);
    expect((await fhir.get<Bundle>(`Observation?subject=${a.id}`)).body.total).toBe(1);
    expect((await fhir.get<Bundle>(`Observation?patient=${b.id}`)).body.total).toBe(0);

    const page = await fhir.get<Bundle>('Patient?_count=2');
    expect(page.body.total).toBe(3);
    expect(page.body.entry).toHaveLength(2);
    expect(page.body.link?.find((l) => l.relation === 'next')?.url).toContain('_offset=2');
  });

  test('errors are OperationOutcomes with the right status', async () => {
    expect((await fhir.get('Nonsense/1')).status).toBe(404);
    const invalid = await fhir.post<OperationOutcome>('Patient', { resourceType: 'Patient', gender: 42 });
    expect(invalid.status).toBe(422);
    expect(invalid.body.resourceType).toBe('OperationOutcome');
    const wrongType = await fhir.post('Patient', { resourceType: 'Observation', status: 'final', code: {} });
    expect(wrongType.status).toBe(400);
    const dangling = await fhir.post('Observation', {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'x' },
      subject: { reference: 'Patient/missing' },
    });
    expect(dangling.status).toBe(422);
    const xml = await fhir.request('POST', 'Patient', undefined, { 'content-type': 'application/xml' });
    expect(xml.status).toBe(400);
    const res = await fetch(`${server.url}/Patient`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(res.status).toBe(415);
    const broken = await fetch(`${server.url}/Patient`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: '{',
    });
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as OperationOutcome).resourceType).toBe('OperationOutcome');
  });

  test('metadata lists the supported interactions', async () => {
    const res = await fhir.get<{
      resourceType: string;
      fhirVersion: string;
      rest: { interaction: { code: string }[]; resource: { type: string; conditionalCreate: boolean }[] }[];
    }>('metadata');
    expect(res.body.resourceType).toBe('CapabilityStatement');
    expect(res.body.fhirVersion).toBe('4.0.1');
    expect(res.body.rest[0]?.interaction.map((i) => i.code)).toEqual(['transaction', 'batch']);
    expect(res.body.rest[0]?.resource.find((r) => r.type === 'Patient')?.conditionalCreate).toBe(true);
  });
});
