import type {
  Bundle,
  CapabilityStatement,
  CapabilityStatementRestResource,
  DocumentReference,
  Observation,
  OperationOutcome,
  Patient,
} from '@medplum/fhirtypes';
import type { RunningSandbox } from './start';
import { startSandbox } from './start';
import { fhirClient } from './testing/fhir-fetch';
import { sandboxPolicyFromEnv } from './fhir/policy';

const MRN = 'urn:oid:2.16.840.1.113883.19.5.99999.1';
const ADAPTER = 'urn:kap:test:resource';
const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

const heartRate = (patientId: string, value: string, category = 'vital-signs'): Observation => ({
  resourceType: 'Observation',
  identifier: [{ system: ADAPTER, value }],
  status: 'final',
  category: [{ coding: [{ system: CATEGORY, code: category }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  subject: { reference: `Patient/${patientId}` },
  effectiveDateTime: '2025-01-15T10:00:00Z',
  valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
});

const note = (patientId: string, value: string, replaces?: string): DocumentReference => ({
  resourceType: 'DocumentReference',
  identifier: [{ system: ADAPTER, value }],
  status: 'current',
  docStatus: 'final',
  type: { coding: [{ system: 'http://loinc.org', code: '11506-3', display: 'Progress note' }] },
  category: [{ coding: [{ system: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category', code: 'clinical-note' }] }],
  subject: { reference: `Patient/${patientId}` },
  date: '2025-01-15T10:00:00Z',
  content: [{ attachment: { contentType: 'text/html', data: Buffer.from('<p>Course note</p>').toString('base64') } }],
  ...(replaces ? { relatesTo: [{ code: 'replaces', target: { reference: `DocumentReference/${replaces}` } }] } : {}),
});

const issueText = (body: unknown): string => JSON.stringify((body as OperationOutcome).issue ?? body);

describe('vitals-notes profile: an EHR that takes vital signs and clinical notes only', () => {
  let server: RunningSandbox;
  let fhir: ReturnType<typeof fhirClient>;
  let patientId: string;

  beforeAll(async () => {
    server = await startSandbox({ port: 0, profile: 'vitals-notes' });
    fhir = fhirClient(server.url);
    const seeded = await fetch(`${server.rootUrl}/__admin/seed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resourceType: 'Patient', identifier: [{ system: MRN, value: 'MRN-1' }], name: [{ family: 'Testpatient' }] }),
    });
    expect(seeded.status).toBe(201);
    patientId = ((await seeded.json()) as Patient).id as string;
  });
  afterAll(() => server.close());

  test('its CapabilityStatement states exactly what it takes', async () => {
    const rest = (await fhir.get<CapabilityStatement>('metadata')).body.rest?.[0];
    expect(rest?.interaction).toBeUndefined();
    expect(rest?.documentation).toContain('Profile vitals-notes');
    const byType = new Map<string, CapabilityStatementRestResource>(rest?.resource?.map((r) => [r.type, r]));
    expect([...byType.keys()].sort()).toEqual(['DocumentReference', 'Observation', 'Patient']);
    const codes = (type: string): string[] => byType.get(type)?.interaction?.map((i) => i.code) ?? [];
    expect(codes('Patient')).toEqual(['read', 'search-type']);
    expect(codes('Observation')).toEqual(['read', 'create', 'search-type']);
    expect(codes('DocumentReference')).toEqual(['read', 'update', 'create', 'search-type']);
    for (const resource of byType.values()) {
      expect(resource.conditionalCreate).toBe(false);
      expect(resource.conditionalUpdate).toBe(false);
      expect(resource.conditionalDelete).toBe('not-supported');
      expect(resource.updateCreate).toBe(false);
    }
    expect(
      byType
        .get('Patient')
        ?.searchParam?.map((p) => p.name)
        .sort(),
    ).toEqual(['_id', 'identifier']);
    expect(byType.get('Observation')?.searchParam?.map((p) => p.name)).toContain('identifier');
    expect(byType.get('DocumentReference')?.searchParam?.map((p) => p.name)).toContain('identifier');
  });

  test('Patient: read and search by identifier or _id; no writes, no other search', async () => {
    expect((await fhir.get<Patient>(`Patient/${patientId}`)).status).toBe(200);
    const found = await fhir.get<Bundle>(`Patient?identifier=${encodeURIComponent(`${MRN}|MRN-1`)}`);
    expect(found.status).toBe(200);
    expect(found.body.entry?.map((e) => e.resource?.id)).toEqual([patientId]);
    expect((await fhir.get<Bundle>(`Patient?_id=${patientId}`)).body.total).toBe(1);

    const byName = await fhir.get<OperationOutcome>('Patient?name=Testpatient');
    expect(byName.status).toBe(400);
    expect(issueText(byName.body)).toContain('Search parameter name is not supported for Patient');

    const create = await fhir.post<OperationOutcome>('Patient', { resourceType: 'Patient' });
    expect(create.status).toBe(405);
    expect(create.body.issue[0]?.code).toBe('not-supported');
    expect(issueText(create.body)).toContain('Interaction create is not supported for Patient');
    expect((await fhir.put(`Patient/${patientId}`, { resourceType: 'Patient', id: patientId })).status).toBe(405);
    expect((await fhir.delete(`Patient/${patientId}`)).status).toBe(405);
    expect((await fhir.get(`Patient/${patientId}/_history`)).status).toBe(405);
    expect(server.sandbox.stats().resources).toMatchObject({ Patient: 1 });
  });

  test('Observation: vital-signs and survey are created and found by identifier; other categories are refused', async () => {
    const vital = await fhir.post<Observation>('Observation', heartRate(patientId, 'hr-1'));
    expect(vital.status).toBe(201);
    const survey = await fhir.post<Observation>('Observation', heartRate(patientId, 'phq-1', 'survey'));
    expect(survey.status).toBe(201);
    const found = await fhir.get<Bundle>(`Observation?identifier=${encodeURIComponent(`${ADAPTER}|hr-1`)}`);
    expect(found.body.entry?.map((e) => e.resource?.id)).toEqual([vital.body.id]);
    expect((await fhir.get(`Observation/${vital.body.id}`)).status).toBe(200);

    const lab = await fhir.post<OperationOutcome>('Observation', heartRate(patientId, 'lab-1', 'laboratory'));
    expect(lab.status).toBe(422);
    expect(lab.body.issue[0]?.expression).toEqual(['Observation.category']);
    expect(issueText(lab.body)).toContain('category laboratory is not accepted');
    const { category: _none, ...uncategorised } = heartRate(patientId, 'none-1');
    const missing = await fhir.post<OperationOutcome>('Observation', uncategorised);
    expect(missing.status).toBe(422);
    expect(issueText(missing.body)).toContain('no category');

    const id = vital.body.id as string;
    expect((await fhir.put(`Observation/${id}`, { ...vital.body, status: 'amended' })).status).toBe(405);
    expect((await fhir.delete(`Observation/${id}`)).status).toBe(405);
    expect((await fhir.get(`Observation?identifier=${encodeURIComponent(`${ADAPTER}|lab-1`)}`)).status).toBe(200);
    expect(server.sandbox.stats().resources).toMatchObject({ Observation: 2 });
  });

  test('If-None-Exist is ignored: the resource is created again, as on servers without conditional create', async () => {
    const first = await fhir.post<Observation>('Observation', heartRate(patientId, 'dup-1'), {
      'If-None-Exist': `identifier=${ADAPTER}|dup-1`,
    });
    const second = await fhir.post<Observation>('Observation', heartRate(patientId, 'dup-1'), {
      'If-None-Exist': `identifier=${ADAPTER}|dup-1`,
    });
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body.id).not.toBe(first.body.id);
    expect((await fhir.get<Bundle>(`Observation?identifier=${encodeURIComponent(`${ADAPTER}|dup-1`)}`)).body.total).toBe(2);
  });

  test('DocumentReference: a new version supersedes the last, whose status the client updates', async () => {
    const v1 = await fhir.post<DocumentReference>('DocumentReference', note(patientId, 'note-1'));
    expect(v1.status).toBe(201);
    const v2 = await fhir.post<DocumentReference>('DocumentReference', note(patientId, 'note-1-v2', v1.body.id));
    expect(v2.status).toBe(201);
    const superseded = await fhir.put<DocumentReference>(
      `DocumentReference/${v1.body.id}`,
      { ...v1.body, status: 'superseded' },
      { 'If-Match': v1.headers.get('etag') as string },
    );
    expect(superseded.status).toBe(200);
    expect(superseded.body.status).toBe('superseded');
    // A stale version is refused: the update is not lost to a concurrent one.
    expect(
      (
        await fhir.put(
          `DocumentReference/${v1.body.id}`,
          { ...v1.body, status: 'entered-in-error' },
          { 'If-Match': v1.headers.get('etag') as string },
        )
      ).status,
    ).toBe(412);
    const byIdentifier = await fhir.get<Bundle>(`DocumentReference?identifier=${encodeURIComponent(`${ADAPTER}|note-1-v2`)}`);
    expect(byIdentifier.body.entry?.map((e) => e.resource?.id)).toEqual([v2.body.id]);
    const current = await fhir.get<Bundle>(`DocumentReference?patient=${patientId}&status=current`);
    expect(current.body.entry?.map((e) => e.resource?.id)).toEqual([v2.body.id]);
  });

  test('server-assigned ids only: a PUT to a new id is refused and creates nothing', async () => {
    const res = await fhir.put<OperationOutcome>('DocumentReference/chosen-by-client', {
      ...note(patientId, 'put-1'),
      id: 'chosen-by-client',
    });
    expect(res.status).toBe(404);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect((await fhir.get('DocumentReference/chosen-by-client')).status).toBe(404);
  });

  test('no conditional writes, no transaction or batch', async () => {
    const conditional = await fhir.put<OperationOutcome>(`DocumentReference?identifier=${ADAPTER}|note-1`, note(patientId, 'note-1'));
    expect(conditional.status).toBe(405);
    expect(conditional.body.issue[0]?.code).toBe('not-supported');
    for (const type of ['transaction', 'batch'] as const) {
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type,
        entry: [{ resource: heartRate(patientId, `b-${type}`), request: { method: 'POST', url: 'Observation' } }],
      };
      const res = await fhir.post<OperationOutcome>('', bundle);
      expect(res.status).toBe(400);
      expect(res.body.issue[0]?.code).toBe('not-supported');
    }
    expect((await fhir.get<Bundle>(`Observation?identifier=${encodeURIComponent(`${ADAPTER}|b-batch`)}`)).body.total).toBe(0);
  });

  test('every other type has no interactions', async () => {
    for (const [method, path, body] of [
      ['POST', 'CarePlan', { resourceType: 'CarePlan', status: 'active', intent: 'plan', subject: { reference: `Patient/${patientId}` } }],
      ['GET', 'CarePlan', undefined],
      ['GET', 'QuestionnaireResponse?patient=x', undefined],
      ['POST', 'Procedure', { resourceType: 'Procedure', status: 'completed', subject: { reference: `Patient/${patientId}` } }],
    ] as const) {
      const res = await fhir.request<OperationOutcome>(method, path, body);
      expect(res.status).toBe(404);
      expect(res.body.issue[0]?.code).toBe('not-supported');
    }
  });

  test('selected from the environment', () => {
    expect(sandboxPolicyFromEnv({ SANDBOX_PROFILE: 'vitals-notes' })).toEqual({ profile: 'vitals-notes' });
  });
});
