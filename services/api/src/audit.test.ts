import { DEFAULT_SCREENING_RULES } from '@kap/domain';
import { loadConfig } from '@kap/config';
import { forTenant, openDatabase, searchAuditEvents, type DeploymentDb, type TenantDb } from '@kap/store';
import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import express from 'express';
import pino from 'pino';
import request from 'supertest';
import { startApiHarness, type ApiHarness } from '@kap/testkit/api-harness';
import { TEST_DATABASE_URL, dropSchema, uniqueSchema } from '@kap/testkit/postgres';
import { screeningRequest } from '@kap/testkit/requests';
import { auditTrailOf, createApp } from './app';
import { AuditTrail, type AuditRecord } from './audit/trail';
import { setCaller } from './http/caller';

/** What a test checks of an AuditEvent: who, what, which patient, outcome. */
interface Seen {
  readonly subtype: string | undefined;
  readonly action: string | undefined;
  readonly outcome: string | undefined;
  readonly patient: string | undefined;
  readonly client: string | undefined;
  readonly resources: string[];
  readonly query?: string;
}

function seen(e: AuditEvent): Seen {
  const patient = e.entity?.find((x) => x.role?.code === '1')?.what?.reference;
  const query = e.entity?.find((x) => x.role?.code === '24')?.query;
  return {
    subtype: e.subtype?.[0]?.code,
    action: e.action,
    outcome: e.outcome,
    patient: patient?.replace('Patient/', ''),
    client: e.agent?.find((a) => a.requestor)?.who?.identifier?.value,
    resources: (e.entity ?? []).filter((x) => x.role?.code === '4').map((x) => x.what?.reference ?? ''),
    ...(query ? { query: Buffer.from(query, 'base64').toString('utf8') } : {}),
  };
}

let h: ApiHarness;
const known = new Set<string>();

/** AuditEvents stored since the last call, oldest first. */
async function fresh(db: DeploymentDb = h.db): Promise<AuditEvent[]> {
  const rows = await db.query<{ content: AuditEvent }>('SELECT content FROM audit_events ORDER BY recorded, id');
  const out = rows.map((r) => r.content).filter((e) => !known.has(e.id as string));
  for (const e of out) known.add(e.id as string);
  return out;
}

/** The batched AuditEvents of the requests made so far, once written. */
async function flushed(): Promise<AuditEvent[]> {
  await auditTrailOf(h.app).flush();
  return fresh();
}

let patientId: string;
let screeningId: string;
let courseId: string;
let carePlanId: string;
let observationId: string;

beforeAll(async () => {
  // A batch size no test reaches and a timer no test waits for: only flush() writes reads.
  h = await startApiHarness({ env: { AUDIT_BATCH_SIZE: '1000', AUDIT_FLUSH_MS: '600000' }, tenantIds: ['default', 'hospital-b'] });
});
afterAll(async () => {
  await h.close();
});

describe('writes', () => {
  it('a screening leaves one create AuditEvent in its own transaction, naming the patient, the client and what it wrote', async () => {
    const res = await request(h.app).post('/v1/screenings').send(screeningRequest()).expect(201);
    screeningId = res.body.screeningId;
    const entries = (res.body.resources as Bundle).entry ?? [];
    patientId = entries.find((e) => e.resource?.resourceType === 'Patient')?.resource?.id as string;
    observationId = entries.find((e) => e.resource?.resourceType === 'Observation')?.resource?.id as string;
    // Stored with the write, not queued: it is there before any flush.
    expect(auditTrailOf(h.app).size).toBe(0);
    const events = await fresh();
    expect(events.map(seen)).toEqual([
      {
        subtype: 'create',
        action: 'C',
        outcome: '0',
        patient: patientId,
        client: 'anonymous',
        resources: entries.map((e) => `${e.resource?.resourceType}/${e.resource?.id}`).filter((r) => !r.startsWith('Patient/')),
      },
    ]);
  });

  it('a course start is a create of its CarePlan; a stop is an update of it', async () => {
    const started = await request(h.app).post('/v1/courses').send({ screeningId }).expect(201);
    courseId = started.body.courseId;
    carePlanId = started.body.carePlanId;
    expect((await fresh()).map(seen)).toEqual([
      { subtype: 'create', action: 'C', outcome: '0', patient: patientId, client: 'anonymous', resources: [`CarePlan/${carePlanId}`] },
    ]);
    await request(h.app).post(`/v1/courses/${courseId}/stop`).send({ reason: 'withdrawn' }).expect(200);
    const stopped = (await fresh()).map(seen);
    expect(stopped.find((e) => e.subtype === 'update')).toMatchObject({
      action: 'U',
      outcome: '0',
      patient: patientId,
      resources: expect.arrayContaining([`CarePlan/${carePlanId}`]),
    });
    expect(stopped.every((e) => e.patient === patientId && e.outcome === '0')).toBe(true);
  });

  it('an idempotent replay records nothing new: the write it repeats was audited', async () => {
    const body = screeningRequest();
    await request(h.app).post('/v1/screenings').set('Idempotency-Key', 'audit-replay').send(body).expect(201);
    expect(await fresh()).toHaveLength(1);
    await request(h.app).post('/v1/screenings').set('Idempotency-Key', 'audit-replay').send(body).expect(201);
    expect(await flushed()).toEqual([]);
  });

  it('a write that fails after its handler rolls back with its AuditEvent; the failure is recorded instead', async () => {
    // The idempotency record is completed last in the transaction, after the AuditEvent is written.
    await h.db.query(
      `CREATE FUNCTION refuse_completion() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`,
    );
    await h.db.query(
      'CREATE TRIGGER refuse_completion BEFORE UPDATE ON idempotency_keys FOR EACH ROW EXECUTE FUNCTION refuse_completion()',
    );
    try {
      await request(h.app).post('/v1/screenings').set('Idempotency-Key', 'audit-rollback').send(screeningRequest()).expect(500);
    } finally {
      await h.db.query('DROP TRIGGER refuse_completion ON idempotency_keys');
    }
    expect(await fresh()).toEqual([]);
    expect((await flushed()).map(seen)).toEqual([
      { subtype: 'create', action: 'C', outcome: '8', patient: undefined, client: 'anonymous', resources: [] },
    ]);
  });

  it('a refused write (404) is recorded as a failure, with no patient', async () => {
    await request(h.app).post('/v1/courses').send({ screeningId: '00000000-0000-4000-8000-000000000000' }).expect(404);
    expect(await fresh()).toEqual([]);
    expect((await flushed()).map(seen)).toEqual([
      { subtype: 'create', action: 'C', outcome: '4', patient: undefined, client: 'anonymous', resources: [] },
    ]);
  });
});

describe('reads, batched', () => {
  it('a course view is a read of the patient and the CarePlan, written at flush', async () => {
    await request(h.app).get(`/v1/courses/${courseId}`).expect(200);
    await request(h.app).get(`/v1/courses/${courseId}/outcomes`).expect(200);
    expect(await fresh()).toEqual([]);
    expect(auditTrailOf(h.app).size).toBe(2);
    expect((await flushed()).map(seen)).toEqual([
      { subtype: 'read', action: 'R', outcome: '0', patient: patientId, client: 'anonymous', resources: [`CarePlan/${carePlanId}`] },
      { subtype: 'read', action: 'R', outcome: '0', patient: patientId, client: 'anonymous', resources: [] },
    ]);
  });

  it('FHIR read, vread and search name the patient; a search its query', async () => {
    await request(h.app).get(`/fhir/R4/Observation/${observationId}`).expect(200);
    await request(h.app).get(`/fhir/R4/Observation/${observationId}/_history/1`).expect(200);
    await request(h.app).get(`/fhir/R4/Patient/${patientId}`).expect(200);
    await request(h.app).get(`/fhir/R4/Observation?patient=Patient/${patientId}&_count=2`).expect(200);
    const base = { outcome: '0', patient: patientId, client: 'anonymous' };
    expect((await flushed()).map(seen)).toEqual([
      { ...base, subtype: 'read', action: 'R', resources: [`Observation/${observationId}`] },
      { ...base, subtype: 'vread', action: 'R', resources: [`Observation/${observationId}/_history/1`] },
      { ...base, subtype: 'read', action: 'R', resources: [] },
      { ...base, subtype: 'search-type', action: 'E', resources: [], query: `/fhir/R4/Observation?patient=Patient/${patientId}&_count=2` },
    ]);
  });

  it('a search without a patient parameter is recorded for each patient it found', async () => {
    const other = await request(h.app).post('/v1/screenings').send(screeningRequest()).expect(201);
    const otherPatient = ((other.body.resources as Bundle).entry ?? []).find((e) => e.resource?.resourceType === 'Patient')?.resource?.id;
    await fresh();
    const patients = await request(h.app).get(`/fhir/R4/Patient?_id=${patientId}`).expect(200);
    expect(patients.body.total).toBe(1);
    expect((await flushed()).map((e) => [seen(e).subtype, seen(e).patient])).toEqual([['search-type', patientId]]);
    expect(otherPatient).not.toBe(patientId);
  });

  it('a failed read is recorded with a failure outcome and what was asked for; definitional reads are not audited', async () => {
    await request(h.app).get('/fhir/R4/Observation/no-such-id').expect(404);
    await request(h.app).get('/v1/courses/no-such-course').expect(404);
    await request(h.app).get('/fhir/R4/Observation?foo=bar').expect(400);
    await request(h.app).get('/fhir/R4/Questionnaire/kap-screening').expect(200);
    await request(h.app).get('/fhir/R4/metadata').expect(200);
    await request(h.app).get('/health').expect(200);
    expect((await flushed()).map(seen)).toEqual([
      { subtype: 'read', action: 'R', outcome: '4', patient: undefined, client: 'anonymous', resources: ['Observation/no-such-id'] },
      { subtype: 'read', action: 'R', outcome: '4', patient: undefined, client: 'anonymous', resources: [] },
      {
        subtype: 'search-type',
        action: 'E',
        outcome: '4',
        patient: undefined,
        client: 'anonymous',
        resources: [],
        query: '/fhir/R4/Observation?foo=bar',
      },
    ]);
  });
});

describe('operators', () => {
  it("reading the hospital's messages with their content is audited; listing them without is not", async () => {
    await fresh();
    await request(h.app).get('/v1/admin/inbound-messages').expect(200);
    await request(h.app).get('/v1/admin/inbound-messages?content=true').expect(200);
    expect((await flushed()).map(seen)).toEqual([
      {
        subtype: 'search-type',
        action: 'E',
        outcome: '0',
        patient: undefined,
        client: 'anonymous',
        resources: [],
        query: '/v1/admin/inbound-messages?content=true',
      },
    ]);
  });
});

describe('the FHIR face of the audit trail', () => {
  it('searches by patient, newest first, with paging; reads by id; and is itself audited', async () => {
    const all = await searchAuditEvents(forTenant(h.db, 'default'), { patient: patientId, count: 1000, offset: 0 });
    expect(all.total).toBeGreaterThanOrEqual(8);
    const page = await request(h.app).get(`/fhir/R4/AuditEvent?patient=${patientId}&_count=2`).expect(200);
    expect(page.headers['content-type']).toMatch(/application\/fhir\+json/);
    const bundle = page.body as Bundle<AuditEvent>;
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: all.total });
    expect(bundle.entry?.map((e) => e.resource?.id)).toEqual(all.resources.slice(0, 2).map((r) => r.id));
    const next = bundle.link?.find((l) => l.relation === 'next')?.url;
    expect(next).toContain('_offset=2');
    const second = await request(h.app)
      .get(new URL(next as string).pathname + new URL(next as string).search)
      .expect(200);
    expect(second.body.entry.map((e: { resource: AuditEvent }) => e.resource.id)).toEqual(all.resources.slice(2, 4).map((r) => r.id));

    const id = all.resources[0]?.id as string;
    const read = await request(h.app).get(`/fhir/R4/AuditEvent/${id}`).expect(200);
    expect(read.body).toEqual(all.resources[0]);
    const byId = await request(h.app).get(`/fhir/R4/AuditEvent?_id=${id}`).expect(200);
    expect(byId.body.entry.map((e: { resource: AuditEvent }) => e.resource.id)).toEqual([id]);

    await request(h.app).get(`/fhir/R4/AuditEvent?identifier=x`).expect(400);
    await request(h.app).get(`/fhir/R4/AuditEvent`).expect(400);
    await fresh();
    const audited = (await flushed()).map(seen);
    expect(audited.filter((e) => e.outcome === '0').map((e) => [e.subtype, e.patient])).toEqual([
      ['search-type', patientId],
      ['search-type', patientId],
      ['read', patientId],
      ['search-type', patientId],
    ]);
    expect(audited.filter((e) => e.outcome === '4')).toHaveLength(2);
  });

  it('counts what it wrote in the metrics', async () => {
    const metrics = await request(h.app).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/kap_audit_events_written_total\{path="transaction"\} [1-9]/);
    expect(metrics.text).toMatch(/kap_audit_events_written_total\{path="batch"\} [1-9]/);
    expect(metrics.text).toContain('kap_audit_events_dropped_total 0');
  });

  it('the CapabilityStatement lists AuditEvent with read, search-type and its patient parameter', async () => {
    const cs = await request(h.app).get('/fhir/R4/metadata').expect(200);
    const entry = cs.body.rest[0].resource.find((r: { type: string }) => r.type === 'AuditEvent');
    expect(entry.interaction.map((i: { code: string }) => i.code)).toEqual(['read', 'search-type']);
    expect(entry.searchParam.map((p: { name: string }) => p.name)).toEqual(['_id', 'patient']);
  });
});

describe('the client and the tenant come from the caller', () => {
  it('names the client and the user, and queues the read for the caller tenant', async () => {
    const trail = auditTrailOf(h.app);
    const recorded: { tenantId: string; record: AuditRecord }[] = [];
    let ownPatientId = '';
    const spy = jest.spyOn(trail, 'record').mockImplementation((tenantId, record) => void recorded.push({ tenantId, record }));
    try {
      // As the authentication layer will: the caller is set before the routes run.
      const outer = express();
      outer.use((_req, res, next) => {
        setCaller(res, { tenantId: 'hospital-b', clientId: 'ward-app', subject: 'dr-rivera', scopes: new Set(['*']) });
        next();
      });
      outer.use(h.app);
      // The caller's tenant has a patient of its own: another tenant's would be 404 to it.
      const created = await request(outer).post('/v1/screenings').send(screeningRequest()).expect(201);
      ownPatientId = created.body.resources.entry[0].resource.id;
      await request(outer).get(`/fhir/R4/Patient/${ownPatientId}`).expect(200);
    } finally {
      spy.mockRestore();
    }
    expect(recorded).toEqual([
      {
        tenantId: 'hospital-b',
        record: expect.objectContaining({
          interaction: 'read',
          patientId: ownPatientId,
          status: 200,
          client: expect.objectContaining({ clientId: 'ward-app', subject: 'dr-rivera' }),
        }),
      },
    ]);
  });
});

describe('the batch writer', () => {
  const record = (patientId: string): AuditRecord => ({
    interaction: 'read',
    status: 200,
    client: { clientId: 'c' },
    patientId,
    recorded: new Date().toISOString(),
  });

  it('writes each tenant only to its own database, and a failed batch stays queued until it can be written', async () => {
    const schemas = [uniqueSchema('audit_a'), uniqueSchema('audit_b')];
    const [a, b] = await Promise.all(schemas.map((schema) => openDatabase({ url: TEST_DATABASE_URL, schema })));
    const dbs: Record<string, TenantDb> = { a: forTenant(a as DeploymentDb, 'a'), b: forTenant(b as DeploymentDb, 'b') };
    let refuse = true;
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const trail = new AuditTrail({
      dbFor: (tenantId) => {
        const db = dbs[tenantId] as TenantDb;
        if (tenantId === 'b' && refuse)
          return { ...db, transaction: () => Promise.reject(Object.assign(new Error('connection lost'), { code: '08006' })) };
        return db;
      },
      baseUrl: 'http://kap.test/fhir/R4',
      batchSize: 1000,
      flushMs: 600_000,
      syncToEhr: false,
      logger,
    });
    try {
      trail.record('a', record('pa'));
      trail.record('b', record('pb'));
      await expect(trail.flush()).rejects.toThrow('connection lost');
      expect(trail.size).toBe(2);
      // The failure is logged with counts and the error's code, never whose events they were.
      expect(lines.map((l) => JSON.parse(l))).toEqual([
        expect.objectContaining({ msg: 'audit batch not stored; it stays queued and is retried', events: 2 }),
      ]);
      expect(lines.join('')).not.toMatch(/"p[ab]"|Patient\//);
      refuse = false;
      await trail.close();
      expect(trail.size).toBe(0);
      const patientsIn = async (db: TenantDb) =>
        (await searchAuditEvents(db, { count: 10, offset: 0 })).resources.map((e) => seen(e).patient);
      // Tenant a's part was stored by the failed attempt too: the retry stores it once.
      expect(await patientsIn(dbs['a'] as TenantDb)).toEqual(['pa']);
      expect(await patientsIn(dbs['b'] as TenantDb)).toEqual(['pb']);
    } finally {
      await Promise.all([a, b].map((db) => db?.close()));
      await Promise.all(schemas.map(dropSchema));
    }
  });

  it('writes a full batch without being asked, and what is queued at a clean close', async () => {
    const schema = uniqueSchema('audit_c');
    const deployment = await openDatabase({ url: TEST_DATABASE_URL, schema });
    const db = forTenant(deployment, 'default');
    const trail = new AuditTrail({
      dbFor: () => db,
      baseUrl: 'http://kap.test/fhir/R4',
      batchSize: 3,
      flushMs: 600_000,
      syncToEhr: false,
      logger: pino({ level: 'silent' }),
    });
    try {
      for (let i = 0; i < 3; i++) trail.record('default', record(`p${i}`));
      // A full batch is written at once; nothing else would write it before the timer, ten minutes away.
      for (let i = 0; i < 500 && (await searchAuditEvents(db, { count: 0, offset: 0 })).total < 3; i++)
        await new Promise((r) => setTimeout(r, 10));
      expect((await searchAuditEvents(db, { count: 0, offset: 0 })).total).toBe(3);
      trail.record('default', record('p3'));
      expect(trail.size).toBe(1);
      expect((await searchAuditEvents(db, { count: 0, offset: 0 })).total).toBe(3);
      await trail.close();
      expect((await searchAuditEvents(db, { count: 0, offset: 0 })).total).toBe(4);
    } finally {
      await deployment.close();
      await dropSchema(schema);
    }
  });
});

describe('a clean shutdown', () => {
  it('the app built by createApp stores queued reads when its trail is closed', async () => {
    const schema = uniqueSchema('audit_close');
    const db = await openDatabase({ url: TEST_DATABASE_URL, schema });
    const config = loadConfig({ PUBLIC_BASE_URL: 'http://kap.test', AUDIT_FLUSH_MS: '600000' });
    const app = createApp({ config, db, rules: DEFAULT_SCREENING_RULES, logger: pino({ level: 'silent' }) });
    try {
      await request(app).get('/fhir/R4/Observation/nope').expect(404);
      expect((await searchAuditEvents(forTenant(db, 'default'), { count: 0, offset: 0 })).total).toBe(0);
      await auditTrailOf(app).close();
      expect((await searchAuditEvents(forTenant(db, 'default'), { count: 0, offset: 0 })).total).toBe(1);
    } finally {
      await db.close();
      await dropSchema(schema);
    }
  });
});
