import { TENANT_TABLES, forTenant, markDead, storeInboundMessage } from '@kap/store';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import request from 'supertest';
import { startApiHarness, type ApiHarness } from '@kap/testkit/api-harness';
import { auditTrailOf } from './app';
import { screeningRequest, sessionOneRequest, courseStartYesterday } from '@kap/testkit/requests';
import { startTestIssuer, type TestIssuer } from '@kap/testkit/tokens';

const ALL_SCOPES = 'kap/v1.read kap/v1.write kap/admin system/*.rs system/*.c';
const NORTH = 'north';
const SOUTH = 'south';

const resourcesOf = (body: { resources: Bundle }): Resource[] => (body.resources.entry ?? []).map((e) => e.resource as Resource);
const patientOf = (body: { resources: Bundle }): string => resourcesOf(body).find((r) => r.resourceType === 'Patient')?.id as string;

/**
 * Two hospitals on one deployment: north's caller tries everything on south's data, through
 * /v1 and the FHIR face, and finds nothing there (404) and changes nothing.
 */
describe('tenants through the API', () => {
  let issuer: TestIssuer;
  let h: ApiHarness;
  let north: string;
  let south: string;
  // South's data, made through the API as south's client.
  const s = {} as {
    mrn: { system: string; value: string };
    onlyMrn: { system: string; value: string };
    patientId: string;
    observationId: string;
    screeningId: string;
    needsReviewId: string;
    courseId: string;
    followUpId: string;
    reconciliationId: string;
    deadLetterId: number;
  };

  const get = (token: string, path: string) => request(h.app).get(path).set('Authorization', `Bearer ${token}`);
  const post = (token: string, path: string, body: unknown = {}) =>
    request(h.app)
      .post(path)
      .set('Authorization', `Bearer ${token}`)
      .send(body as object);

  /** Every row south owns, as text, table by table: to prove north's attempts changed none. */
  const southRows = async (): Promise<Record<string, string>> => {
    // South's own reads are in its audit trail once flushed; north's attempts must add none there.
    await auditTrailOf(h.app).flush();
    const out: Record<string, string> = {};
    // South's audit trail grows with south's own control reads below; what it must never hold is north's client.
    const [clients] = await h.db.query<{ clients: string[] | null }>(
      `SELECT array_agg(DISTINCT a->'who'->'identifier'->>'value') AS clients
         FROM audit_events, jsonb_array_elements(content->'agent') a WHERE tenant_id = $1 AND (a->>'requestor')::boolean`,
      [SOUTH],
    );
    out.auditClients = JSON.stringify(clients?.clients ?? []);
    for (const table of TENANT_TABLES.filter((t) => t !== 'audit_events')) {
      const [row] = await h.db.query<{ rows: string | null }>(
        `SELECT string_agg(t::text, E'\\n' ORDER BY t::text) AS rows FROM ${table} t WHERE tenant_id = $1`,
        [SOUTH],
      );
      out[table] = row?.rows ?? '';
    }
    return out;
  };

  beforeAll(async () => {
    issuer = await startTestIssuer();
    h = await startApiHarness({ env: issuer.env(), tenantIds: [NORTH, SOUTH] });
    north = await issuer.mint({ scope: ALL_SCOPES, tenant: NORTH, clientId: 'north-app', expiresIn: 3600 });
    south = await issuer.mint({ scope: ALL_SCOPES, tenant: SOUTH, clientId: 'south-app', expiresIn: 3600 });

    const shared = screeningRequest();
    s.mrn = { system: shared.patient.system, value: shared.patient.value };
    const screening = await post(south, '/v1/screenings', shared).expect(201);
    s.screeningId = screening.body.screeningId;
    s.patientId = patientOf(screening.body);
    s.observationId = resourcesOf(screening.body).find((r) => r.resourceType === 'Observation')?.id as string;
    const only = screeningRequest({ contraindications: { recurrentCystitis: true } });
    s.onlyMrn = { system: only.patient.system, value: only.patient.value };
    const needsReview = await post(south, '/v1/screenings', only).expect(201);
    expect(needsReview.body.outcome).toBe('needs-review');
    s.needsReviewId = needsReview.body.screeningId;
    s.courseId = (
      await post(south, '/v1/courses', { screeningId: s.screeningId, startDate: courseStartYesterday() }).expect(201)
    ).body.courseId;
    const start = new Date(Date.now() - 2 * 3600_000);
    const session = await post(south, `/v1/courses/${s.courseId}/dosing-sessions`, sessionOneRequest(start)).expect(201);
    s.followUpId = session.body.followUps[0].id;
    s.reconciliationId = (await post(south, '/v1/admin/reconcile', { patient: s.onlyMrn }).expect(202)).body.reconciliationId;
    const [outbox] = await h.db.query<{ id: number }>('SELECT id FROM outbox WHERE tenant_id = $1 ORDER BY id LIMIT 1', [SOUTH]);
    s.deadLetterId = Number(outbox?.id);
    await markDead(h.db, s.deadLetterId, 'given up (test)');
    await storeInboundMessage(forTenant(h.db, SOUTH), {
      channel: 'hl7v2',
      sender: 'SOUTH-HIS',
      controlId: 'S-1',
      content: 'MSH|…',
      status: 'rejected',
    });
  });
  afterAll(async () => {
    await h.close();
    await issuer.close();
  });

  it('the same hospital identifier in two tenants is two patients, each found only by its own tenant', async () => {
    const inNorth = await post(
      north,
      '/v1/screenings',
      screeningRequest({ patient: { ...s.mrn, name: { family: 'Synthetic', given: ['North'] } } }),
    ).expect(201);
    const northPatient = patientOf(inNorth.body);
    expect(northPatient).not.toBe(s.patientId);
    const identifier = encodeURIComponent(`${s.mrn.system}|${s.mrn.value}`);
    const northSearch = await get(north, `/fhir/R4/Patient?identifier=${identifier}`).expect(200);
    expect((northSearch.body.entry ?? []).map((e: { resource: Resource }) => e.resource.id)).toEqual([northPatient]);
    const southSearch = await get(south, `/fhir/R4/Patient?identifier=${identifier}`).expect(200);
    expect((southSearch.body.entry ?? []).map((e: { resource: Resource }) => e.resource.id)).toEqual([s.patientId]);
    const rows = await h.db.query<{ tenant_id: string; patient_id: string }>(
      'SELECT tenant_id, patient_id FROM patient_identifiers WHERE system = $1 AND value = $2 ORDER BY tenant_id',
      [s.mrn.system, s.mrn.value],
    );
    expect(rows).toEqual([
      { tenant_id: NORTH, patient_id: northPatient },
      { tenant_id: SOUTH, patient_id: s.patientId },
    ]);
  });

  it("north can neither read nor search south's data, through /v1 or the FHIR face", async () => {
    const before = await southRows();
    const reads = [
      `/v1/courses/${s.courseId}`,
      `/v1/courses/${s.courseId}/outcomes`,
      `/fhir/R4/Patient/${s.patientId}`,
      `/fhir/R4/Observation/${s.observationId}`,
      `/fhir/R4/Observation/${s.observationId}/_history/1`,
      `/v1/admin/reconcile/${s.reconciliationId}`,
    ];
    for (const path of reads) {
      const res = await get(north, path);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect(res.body.resourceType).toBe('OperationOutcome');
      // South's own client does find it: the 404 is the tenant boundary, not a broken route.
      expect({ path, status: (await get(south, path)).status }).toEqual({ path, status: 200 });
    }
    const searches = [
      `/fhir/R4/Observation?patient=${s.patientId}`,
      `/fhir/R4/Observation?subject=Patient/${s.patientId}`,
      `/fhir/R4/Patient?_id=${s.patientId}`,
      `/fhir/R4/Observation?_id=${s.observationId}`,
      `/fhir/R4/Patient?identifier=${encodeURIComponent(`${s.onlyMrn.system}|${s.onlyMrn.value}`)}`,
    ];
    for (const path of searches) {
      const res = await get(north, path).expect(200);
      expect({ path, total: res.body.total, entries: res.body.entry ?? [] }).toEqual({ path, total: 0, entries: [] });
      expect((await get(south, path).expect(200)).body.total).toBeGreaterThan(0);
    }
    const dead = await get(north, '/v1/admin/dead-letters').expect(200);
    expect(dead.body.deadLetters).toEqual([]);
    expect((await get(south, '/v1/admin/dead-letters').expect(200)).body.deadLetters.map((d: { id: number }) => d.id)).toEqual([
      s.deadLetterId,
    ]);
    const inbound = await get(north, '/v1/admin/inbound-messages').expect(200);
    expect(JSON.stringify(inbound.body)).not.toContain('SOUTH-HIS');
    expect(JSON.stringify((await get(south, '/v1/admin/inbound-messages').expect(200)).body)).toContain('SOUTH-HIS');
    expect(await southRows()).toEqual(before);
    // Each refused read is in north's own trail, as north's failed attempt: client north-app, outcome 4.
    const failures = await h.db.query<{ path: string; client: string }>(
      `SELECT convert_from(decode(e->>'query', 'base64'), 'UTF8') AS path, a->'who'->'identifier'->>'value' AS client
         FROM audit_events, jsonb_array_elements(content->'agent') a, jsonb_array_elements(content->'entity') e
        WHERE tenant_id = $1 AND content->>'outcome' = '4' AND (a->>'requestor')::boolean AND e ? 'query'`,
      [NORTH],
    );
    const refusedReads = await h.db.query<{ what: string; client: string }>(
      `SELECT e->'what'->>'reference' AS what, a->'who'->'identifier'->>'value' AS client
         FROM audit_events, jsonb_array_elements(content->'agent') a, jsonb_array_elements(content->'entity') e
        WHERE tenant_id = $1 AND content->>'outcome' = '4' AND (a->>'requestor')::boolean AND e ? 'what'`,
      [NORTH],
    );
    expect(refusedReads).toEqual(
      expect.arrayContaining([
        { what: `Patient/${s.patientId}`, client: 'north-app' },
        { what: `Observation/${s.observationId}`, client: 'north-app' },
      ]),
    );
    expect(new Set([...failures, ...refusedReads].map((r) => r.client))).toEqual(new Set(['north-app']));
  });

  it("north can neither review, dose, complete, stop, reconcile nor re-drive south's data (404, nothing changed)", async () => {
    const before = await southRows();
    const start = new Date(Date.now() - 3600_000);
    const writes: Array<[string, unknown]> = [
      [`/v1/screenings/${s.needsReviewId}/review`, { decision: 'approved', reviewer: 'Dr Elsewhere' }],
      ['/v1/courses', { screeningId: s.screeningId }],
      [
        `/v1/courses/${s.courseId}/dosing-sessions`,
        {
          sessionNumber: 2,
          doseLevel: 'low',
          route: 'sublingual',
          dose: { value: 100, unit: 'mg' },
          start: start.toISOString(),
          end: new Date(start.getTime() + 60 * 60_000).toISOString(),
          vitals: [{ at: start.toISOString(), systolic: 120, diastolic: 80, heartRate: 70 }],
        },
      ],
      [`/v1/follow-ups/${s.followUpId}/complete`, { completedAt: new Date().toISOString() }],
      [`/v1/courses/${s.courseId}/stop`, { reason: 'withdrawn' }],
      [`/v1/courses/${s.courseId}/measures`, { measuredAt: new Date().toISOString(), phq9: [0, 0, 0, 0, 0, 0, 0, 0, 3] }],
      ['/v1/admin/reconcile', { patient: s.onlyMrn }],
      [`/v1/admin/dead-letters/${s.deadLetterId}/redrive`, {}],
    ];
    for (const [path, body] of writes) {
      const res = await post(north, path, body);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect(res.body.resourceType).toBe('OperationOutcome');
    }
    expect(await southRows()).toEqual(before);
    // Nor did they start anything in north's name: the reconcile was refused, not run on north's data.
    const [northReconciliations] = await h.db.query<{ n: number }>('SELECT count(*)::int AS n FROM reconciliations WHERE tenant_id = $1', [
      NORTH,
    ]);
    expect(northReconciliations?.n).toBe(0);
    // The same requests from south's own client do what they say.
    await post(south, `/v1/admin/dead-letters/${s.deadLetterId}/redrive`).expect(200);
    await post(south, `/v1/screenings/${s.needsReviewId}/review`, { decision: 'approved', reviewer: 'Dr South' }).expect(200);
    await post(south, `/v1/follow-ups/${s.followUpId}/complete`, { completedAt: new Date().toISOString() }).expect(200);
    await post(south, `/v1/courses/${s.courseId}/stop`, { reason: 'withdrawn' }).expect(200);
  });

  it("sync status counts the caller's tenant only", async () => {
    const northStatus = (await get(north, '/v1/admin/sync-status').expect(200)).body.tenants;
    const southStatus = (await get(south, '/v1/admin/sync-status').expect(200)).body.tenants;
    expect(northStatus.map((t: { tenant: string }) => t.tenant)).toEqual([NORTH]);
    expect(southStatus.map((t: { tenant: string }) => t.tenant)).toEqual([SOUTH]);
    const [counts] = await h.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM resources WHERE tenant_id = $1 AND patient_id IS NOT NULL',
      [NORTH],
    );
    expect(northStatus[0].pending + northStatus[0].synced + northStatus[0].dead).toBe(counts?.n);
  });
});
