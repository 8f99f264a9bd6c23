import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import request from 'supertest';
import { startApiHarness, type ApiHarness } from '@kap/testkit/api-harness';
import { assertBundleInvariants } from '@kap/testkit/fhir-invariants';
import { screeningRequest } from '@kap/testkit/requests';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApiHarness();
});
afterAll(async () => {
  await h.close();
});

async function counts(): Promise<Record<string, number>> {
  const [row] = await h.db.query<Record<string, string>>(
    `SELECT (SELECT count(*) FROM resources) AS resources, (SELECT count(*) FROM screenings) AS screenings,
            (SELECT count(*) FROM outbox) AS outbox, (SELECT count(*) FROM idempotency_keys) AS keys`,
  );
  return Object.fromEntries(Object.entries(row ?? {}).map(([k, v]) => [k, Number(v)]));
}

function issue(body: OperationOutcome, expression: string) {
  return body.issue?.find((i) => i.expression?.includes(expression));
}

describe('POST /v1/screenings', () => {
  it('records an eligible screening and answers with valid FHIR', async () => {
    const res = await request(h.app).post('/v1/screenings').send(screeningRequest()).expect(201);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body).toMatchObject({ outcome: 'eligible', reasons: [] });
    expect(res.body.screeningId).toEqual(expect.any(String));
    const bundle = res.body.resources as Bundle;
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'collection' });
    assertBundleInvariants(bundle);
    const types = bundle.entry?.map((e) => e.resource?.resourceType).sort();
    expect(types).toEqual(expect.arrayContaining(['Patient', 'QuestionnaireResponse', 'Observation', 'Consent']));
  });

  it('names each reason of a contraindicated screening', async () => {
    const res = await request(h.app)
      .post('/v1/screenings')
      .send(
        screeningRequest({
          contraindications: { ketamineAllergy: true, recurrentCystitis: true },
          vitals: { systolic: 150, diastolic: 85, heartRate: 80 },
        }),
      )
      .expect(201);
    expect(res.body.outcome).toBe('contraindicated');
    expect(res.body.reasons.map((r: { code: string }) => r.code)).toEqual(['ketamineAllergy', 'recurrentCystitis', 'blood-pressure']);
    expect(res.body.reasons[2]).toMatchObject({ severity: 'absolute', text: expect.stringContaining('150/85') });
    assertBundleInvariants(res.body.resources);
  });

  it('finds the same Patient by identifier and never duplicates it', async () => {
    const first = screeningRequest();
    const a = await request(h.app).post('/v1/screenings').send(first).expect(201);
    const b = await request(h.app)
      .post('/v1/screenings')
      .send({ ...first, performedAt: '2026-03-02T09:30:00+01:00' })
      .expect(201);
    const patientOf = (body: { resources: Bundle }) =>
      body.resources.entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource?.id;
    expect(patientOf(a.body)).toBeDefined();
    expect(patientOf(b.body)).toBe(patientOf(a.body));
    const rows = await h.db.query(`SELECT id FROM resources WHERE resource_type = 'Patient' AND id = $1`, [patientOf(a.body)]);
    expect(rows).toHaveLength(1);
  });

  it('stores an outbox row and pending sync state with the data', async () => {
    const res = await request(h.app).post('/v1/screenings').send(screeningRequest()).expect(201);
    const patientId = (res.body.resources as Bundle).entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource?.id;
    const outbox = await h.db.query(`SELECT topic, payload FROM outbox WHERE patient_id = $1`, [patientId]);
    expect(outbox).toEqual([expect.objectContaining({ topic: 'ehr-sync' })]);
    expect(JSON.stringify(outbox)).not.toMatch(/SYN-|Synthetic/);
    const pending = await h.db.query(`SELECT status FROM sync_state WHERE status = 'pending'`);
    expect(pending.length).toBeGreaterThanOrEqual((res.body.resources as Bundle).entry?.length ?? 0);
  });
});

describe('bad input changes nothing', () => {
  const cases: Array<[string, (body: Record<string, unknown>) => unknown, string]> = [
    ['a wrong type', (b) => ({ ...b, vitals: { ...(b.vitals as object), systolic: 'high' } }), 'vitals.systolic'],
    ['a missing field', ({ performedAt: _omit, ...rest }) => rest, 'performedAt'],
    ['an unknown contraindication key', (b) => ({ ...b, contraindications: { hasCat: true } }), 'contraindications.hasCat'],
    ['an unknown top-level key', (b) => ({ ...b, extra: 1 }), 'extra'],
    ['a time without offset', (b) => ({ ...b, performedAt: '2026-03-01T09:30:00' }), 'performedAt'],
    ['a PHQ-9 with eight items', (b) => ({ ...b, measures: { phq9: [0, 0, 0, 0, 0, 0, 0, 0] } }), 'measures.phq9'],
    ['an item score out of range', (b) => ({ ...b, measures: { gad7: [0, 0, 0, 4, 0, 0, 0] } }), 'measures.gad7[3]'],
    ['a bad patient system', (b) => ({ ...b, patient: { ...(b.patient as object), system: 'not a uri' } }), 'patient.system'],
    // Valid ISO 8601 and JSON, but not valid FHIR: found by the fuzzer as 500s.
    ['a control character in text', (b) => ({ ...b, patient: { ...(b.patient as object), name: 'Ada\u0001Lovelace' } }), 'patient.name'],
    ['the year 0000', (b) => ({ ...b, performedAt: '0000-03-01T09:30:00Z' }), 'performedAt'],
    ['an offset beyond +14:00', (b) => ({ ...b, performedAt: '2026-03-01T09:30:00+14:30' }), 'performedAt'],
  ];

  it.each(cases)('%s is a 400 naming the field', async (_name, mutate, expression) => {
    const before = await counts();
    const res = await request(h.app)
      .post('/v1/screenings')
      .send(mutate(screeningRequest() as unknown as Record<string, unknown>) as object)
      .expect(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    const found = issue(res.body, expression);
    expect(found).toMatchObject({ severity: 'error', diagnostics: expect.any(String) });
    expect(await counts()).toEqual(before);
  });

  it('refuses a body over the limit with 413', async () => {
    const before = await counts();
    const big = { ...screeningRequest(), padding: 'x'.repeat(100_000) };
    const res = await request(h.app).post('/v1/screenings').send(big).expect(413);
    expect(res.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [expect.objectContaining({ code: 'too-costly' })] });
    expect(await counts()).toEqual(before);
  });

  it('refuses a non-JSON content type with 415', async () => {
    const res = await request(h.app).post('/v1/screenings').set('Content-Type', 'text/plain').send('hello').expect(415);
    expect(res.body.resourceType).toBe('OperationOutcome');
    const form = await request(h.app).post('/v1/screenings').type('form').send({ a: 1 }).expect(415);
    expect(form.body.issue[0].code).toBe('not-supported');
  });

  it('refuses malformed JSON with 400', async () => {
    const res = await request(h.app).post('/v1/screenings').set('Content-Type', 'application/json').send('{"patient":').expect(400);
    expect(res.body.issue[0].code).toBe('structure');
  });

  it('refuses an empty body with 400', async () => {
    const res = await request(h.app).post('/v1/screenings').set('Content-Type', 'application/json').send('').expect(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });
});

describe('Idempotency-Key', () => {
  it('replays the first response for the same key and body, doing nothing again', async () => {
    const body = screeningRequest();
    const first = await request(h.app).post('/v1/screenings').set('Idempotency-Key', 'key-replay-1').send(body).expect(201);
    const before = await counts();
    const again = await request(h.app).post('/v1/screenings').set('Idempotency-Key', 'key-replay-1').send(body).expect(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(await counts()).toEqual(before);
  });

  it('answers 409 for the same key with another body', async () => {
    await request(h.app).post('/v1/screenings').set('Idempotency-Key', 'key-conflict-1').send(screeningRequest()).expect(201);
    const before = await counts();
    const res = await request(h.app).post('/v1/screenings').set('Idempotency-Key', 'key-conflict-1').send(screeningRequest()).expect(409);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(await counts()).toEqual(before);
  });

  it('keeps one result when the same key arrives concurrently', async () => {
    const body = screeningRequest();
    const before = await counts();
    const results = await Promise.all(
      Array.from({ length: 6 }, () => request(h.app).post('/v1/screenings').set('Idempotency-Key', 'key-race-1').send(body)),
    );
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(201));
    expect(new Set(results.map((r) => r.body.screeningId)).size).toBe(1);
    const after = await counts();
    expect((after.screenings ?? 0) - (before.screenings ?? 0)).toBe(1);
  });

  it('a key names one request: the same key on another endpoint is 409 and runs nothing (docs/api.md#idempotency)', async () => {
    const s = await request(h.app).post('/v1/screenings').set('Idempotency-Key', 'key-scope-1').send(screeningRequest()).expect(201);
    const before = await counts();
    const res = await request(h.app)
      .post('/v1/courses')
      .set('Idempotency-Key', 'key-scope-1')
      .send({ screeningId: s.body.screeningId })
      .expect(409);
    expect(res.body.issue[0].expression).toEqual(['header.Idempotency-Key']);
    expect(await counts()).toEqual(before);
    // Another caller's keys are its own.
    await request(h.app)
      .post('/v1/courses')
      .set('Idempotency-Key', 'key-scope-1')
      .set('Authorization', 'Bearer other-client')
      .send({ screeningId: s.body.screeningId })
      .expect(201);
  });

  it('replays the stored bytes, byte for byte', async () => {
    const body = screeningRequest();
    const first = await request(h.app).post('/v1/screenings').set('Idempotency-Key', 'key-bytes-1').send(body).expect(201);
    const again = await request(h.app).post('/v1/screenings').set('Idempotency-Key', 'key-bytes-1').send(body).expect(201);
    expect(again.text).toBe(first.text);
    expect(again.headers['content-type']).toBe(first.headers['content-type']);
  });
});
