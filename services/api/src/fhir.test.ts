import type { Bundle, CapabilityStatement, Questionnaire } from '@medplum/fhirtypes';
import request from 'supertest';
import { buildScreeningQuestionnaireResponse, patientId as defaultPatientId } from '@kap/fhir';
import { startApiHarness, type ApiHarness } from '@kap/testkit/api-harness';
import { assertBundleInvariants } from '@kap/testkit/fhir-invariants';
import { screeningRequest } from '@kap/testkit/requests';

let h: ApiHarness;
let screening: { screeningId: string; resources: Bundle };
let patientId: string;

beforeAll(async () => {
  h = await startApiHarness();
  const res = await request(h.app).post('/v1/screenings').send(screeningRequest()).expect(201);
  screening = res.body;
  patientId = screening.resources.entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource?.id as string;
});
afterAll(async () => {
  await h.close();
});

describe('FHIR R4 endpoints', () => {
  it('serves a CapabilityStatement', async () => {
    const res = await request(h.app).get('/fhir/R4/metadata').expect(200);
    expect(res.headers['content-type']).toMatch(/application\/fhir\+json/);
    const cs = res.body as CapabilityStatement;
    expect(cs).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1', kind: 'instance' });
    const types = cs.rest?.[0]?.resource?.map((r) => r.type);
    expect(types).toEqual(expect.arrayContaining(['Patient', 'Observation', 'QuestionnaireResponse', 'Questionnaire', 'CarePlan']));
  });

  it('serves the kap-screening Questionnaire', async () => {
    const res = await request(h.app).get('/fhir/R4/Questionnaire/kap-screening').expect(200);
    const q = res.body as Questionnaire;
    expect(q).toMatchObject({ resourceType: 'Questionnaire', id: 'kap-screening', status: 'active' });
    const search = await request(h.app).get('/fhir/R4/Questionnaire').expect(200);
    expect(search.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).toContain('kap-screening');
  });

  it('reads and vreads a produced resource with its ETag', async () => {
    const obs = screening.resources.entry?.find((e) => e.resource?.resourceType === 'Observation')?.resource;
    const res = await request(h.app).get(`/fhir/R4/Observation/${obs?.id}`).expect(200);
    expect(res.body).toMatchObject({ resourceType: 'Observation', id: obs?.id });
    expect(res.headers.etag).toBe(`W/"${res.body.meta.versionId}"`);
    await request(h.app).get(`/fhir/R4/Observation/${obs?.id}/_history/${res.body.meta.versionId}`).expect(200);
    await request(h.app).get(`/fhir/R4/Observation/${obs?.id}/_history/999`).expect(404);
  });

  it('searches by patient and returns a valid searchset', async () => {
    const res = await request(h.app).get(`/fhir/R4/Observation?patient=Patient/${patientId}`).expect(200);
    const bundle = res.body as Bundle;
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
    const expected = screening.resources.entry?.filter((e) => e.resource?.resourceType === 'Observation').length;
    expect(bundle.total).toBe(expected);
    expect(bundle.entry).toHaveLength(expected as number);
    assertBundleInvariants(
      bundle,
      new Set([`Patient/${patientId}`, ...(screening.resources.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`)]),
    );
    const bare = await request(h.app).get(`/fhir/R4/Observation?subject=${patientId}&_count=2`).expect(200);
    expect(bare.body.entry).toHaveLength(2);
    expect(bare.body.total).toBe(expected);
  });

  it('needs a patient, _id or identifier to search patient data, and pages with next links', async () => {
    for (const type of ['Observation', 'Patient', 'QuestionnaireResponse']) {
      const res = await request(h.app).get(`/fhir/R4/${type}`).expect(400);
      expect(res.body.issue[0].expression).toEqual(['patient']);
    }
    const all = await request(h.app).get(`/fhir/R4/Observation?patient=${patientId}`).expect(200);
    const total = all.body.total as number;
    expect(total).toBeGreaterThan(2);
    const seen: string[] = [];
    let url: string | undefined = `/fhir/R4/Observation?patient=${patientId}&_count=2`;
    while (url) {
      const page: { body: Bundle } = await request(h.app).get(url).expect(200);
      expect(page.body.total).toBe(total);
      expect(page.body.entry?.length ?? 0).toBeLessThanOrEqual(2);
      seen.push(...(page.body.entry ?? []).map((e) => e.resource?.id as string));
      const next = page.body.link?.find((l) => l.relation === 'next')?.url;
      url = next ? next.replace('http://kap.test', '') : undefined;
    }
    expect(new Set(seen).size).toBe(total);
    // _count is capped, never an unbounded page.
    const big = await request(h.app).get(`/fhir/R4/Observation?patient=${patientId}&_count=100000`).expect(200);
    expect(big.body.link.find((l: { relation: string }) => l.relation === 'self').url).toContain('_count=100');
  });

  it('refuses elements FHIR R4 does not define in a POSTed QuestionnaireResponse', async () => {
    const qr = {
      ...buildScreeningQuestionnaireResponse('client-form-3', screeningRequest(), {
        reference: `Patient/${defaultPatientId(screeningRequest().patient, 'default')}`,
      }),
      extraTopLevel: true,
    };
    const res = await request(h.app).post('/fhir/R4/QuestionnaireResponse').send(qr).expect(400);
    expect(res.body.issue.map((i: { expression: string[] }) => i.expression[0])).toContain('QuestionnaireResponse.extraTopLevel');
  });

  it('answers 400, 404 as OperationOutcomes', async () => {
    const unknownParam = await request(h.app).get('/fhir/R4/Observation?code=1234').expect(400);
    expect(unknownParam.body.issue[0].expression).toEqual(['code']);
    await request(h.app).get('/fhir/R4/NotAType/1').expect(404);
    const missing = await request(h.app).get('/fhir/R4/Observation/does-not-exist').expect(404);
    expect(missing.headers['content-type']).toMatch(/application\/fhir\+json/);
    expect(missing.body.resourceType).toBe('OperationOutcome');
  });

  it('accepts a completed kap-screening QuestionnaireResponse like POST /v1/screenings', async () => {
    const body = screeningRequest({ contraindications: { bipolarHistory: true } });
    const qr = buildScreeningQuestionnaireResponse('client-form-1', body, {
      reference: `Patient/${defaultPatientId(body.patient, 'default')}`,
    });
    const res = await request(h.app)
      .post('/fhir/R4/QuestionnaireResponse')
      .set('Content-Type', 'application/fhir+json')
      .send(JSON.stringify(qr))
      .expect(201);
    expect(res.body).toMatchObject({ outcome: 'needs-review', reasons: [expect.objectContaining({ code: 'bipolarHistory' })] });
    assertBundleInvariants(res.body.resources);
  });

  it('refuses a QuestionnaireResponse for another questionnaire with 400', async () => {
    const qr = {
      ...buildScreeningQuestionnaireResponse('client-form-2', screeningRequest(), {
        reference: `Patient/${defaultPatientId(screeningRequest().patient, 'default')}`,
      }),
      questionnaire: 'http://example.org/Questionnaire/other',
    };
    const res = await request(h.app).post('/fhir/R4/QuestionnaireResponse').send(qr).expect(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].expression?.[0]).toMatch(/questionnaire/);
  });
});
