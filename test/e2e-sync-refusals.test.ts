import { EhrError, writeSettingsFrom, type EhrClient } from '@kap/ehr-client';
import { getSyncStates, listUnsynced } from '@kap/store';
import type { Bundle, CapabilityStatement, Resource } from '@medplum/fhirtypes';
import request from 'supertest';
import { syncPatient } from '@kap/worker';
import { everything, sessionRequest } from '@kap/testkit/course-flow';
import { auditEhr } from '@kap/testkit/ehr-audit';
import { screeningRequest, courseStartYesterday } from '@kap/testkit/requests';
import { startStack, type Stack } from '@kap/testkit/stack';

jest.setTimeout(120_000);

/** An EHR client whose CapabilityStatement is edited, as if the EHR stated something else. */
function withStatement(ehr: EhrClient, edit: (s: CapabilityStatement) => CapabilityStatement): EhrClient {
  return { ...ehr, capabilities: async () => edit(await ehr.capabilities()) };
}

/** Screening, course and both sessions (the second with an adverse event) for one patient; returns its id. */
async function patientWithTwoSessions(stack: Stack): Promise<string> {
  const screening = await request(stack.app).post('/v1/screenings').send(screeningRequest()).expect(201);
  const patientId = ((screening.body.resources as Bundle).entry ?? [])
    .map((e) => e.resource as Resource)
    .find((r) => r.resourceType === 'Patient')?.id as string;
  const course = await request(stack.app)
    .post('/v1/courses')
    .send({ screeningId: screening.body.screeningId, startDate: courseStartYesterday() })
    .expect(201);
  await request(stack.app)
    .post(`/v1/courses/${course.body.courseId}/dosing-sessions`)
    .send(sessionRequest(1, new Date(Date.now() - 3 * 60 * 60_000)))
    .expect(201);
  await request(stack.app)
    .post(`/v1/courses/${course.body.courseId}/dosing-sessions`)
    .send(sessionRequest(2, new Date(Date.now() - 90 * 60_000)))
    .expect(201);
  return patientId;
}

describe.each([
  ['atomic transactions', false],
  ['non-atomic transactions that answer 200 (Medplum without transaction-bundles)', true],
])('an EHR that refuses one resource type it claims to take, %s', (_name, nonAtomic) => {
  let stack: Stack;
  beforeAll(async () => {
    // The sandbox takes everything but Consent; the statement the worker reads claims Consent too.
    const types = [
      'Patient',
      'QuestionnaireResponse',
      'Observation',
      'Provenance',
      'CarePlan',
      'Goal',
      'Task',
      'Encounter',
      'Procedure',
      'MedicationAdministration',
      'AdverseEvent',
      'DetectedIssue',
      'Flag',
      'Communication',
    ];
    stack = await startStack({}, { sandboxOptions: { resourceTypes: types, nonAtomicTransactions: nonAtomic } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('writes everything else, and records per resource what the EHR refused and why', async () => {
    const patientId = await patientWithTwoSessions(stack);
    const claimsConsent = withStatement(stack.ehr, (s) => ({
      ...s,
      rest: s.rest?.map((r) => ({
        ...r,
        resource: [...(r.resource ?? []), { ...(r.resource?.find((x) => x.type === 'Patient') ?? {}), type: 'Consent' as const }],
      })),
    }));
    const settings = writeSettingsFrom(stack.config);
    const failure = await syncPatient(stack.tenantDb, claimsConsent, patientId, { settings }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(EhrError);
    expect((failure as EhrError).kind).toBe('rejected');
    expect((failure as EhrError).message).toMatch(
      /EHR refused 1 resource\(s\): Consent\/[0-9a-f-]+: .*Resource type not supported: Consent/,
    );

    const left = await listUnsynced(stack.tenantDb, patientId);
    expect(left.map((u) => u.type)).toEqual(['Consent']);
    const [consent] = await getSyncStates(stack.tenantDb, [{ type: 'Consent', id: left[0]?.id as string }]);
    expect(consent).toMatchObject({ status: 'failed', lastError: expect.stringContaining('Resource type not supported: Consent') });

    // Everything else is on the EHR exactly once, as it is here (auditEhr would search Consent, which this EHR refuses).
    for (const type of ['Patient', 'CarePlan', 'MedicationAdministration', 'AdverseEvent', 'Flag', 'DetectedIssue', 'Observation']) {
      const local = (await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM resources WHERE resource_type = $1', [type]))[0]
        ?.n;
      expect([type, (await everything(stack.sandbox.url, type)).length]).toEqual([type, local]);
    }
  });
});

describe('an EHR that cannot search a type (no conditional create for AdverseEvent)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({}, { sandboxOptions: { profile: 'no-transactions' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('creates it once, records its id before anything else, and a resumed sync does not create it again', async () => {
    const patientId = await patientWithTwoSessions(stack);
    const noSearch = (s: CapabilityStatement): CapabilityStatement => ({
      ...s,
      rest: s.rest?.map((r) => ({
        ...r,
        resource: r.resource?.map((x) => (x.type === 'AdverseEvent' ? { ...x, conditionalCreate: false, searchParam: [] } : x)),
      })),
    });
    const base = withStatement(stack.ehr, noSearch);
    // Dies at the first request after the AdverseEvent's create returned.
    let created = false;
    const dying: EhrClient = {
      ...base,
      create: async (resource, options) => {
        if (created) throw new Error('worker killed');
        const result = await base.create(resource, options);
        if (resource.resourceType === 'AdverseEvent') {
          expect(options?.ifNoneExist).toBeUndefined();
          created = true;
        }
        return result;
      },
      update: async (resource, options) => {
        if (created) throw new Error('worker killed');
        return base.update(resource, options);
      },
    };
    const settings = writeSettingsFrom(stack.config);
    await syncPatient(stack.tenantDb, dying, patientId, { settings }).catch((err: Error) => expect(err.message).toBe('worker killed'));
    expect(created).toBe(true);
    const [ae] = await stack.db.query<{ id: string }>(`SELECT id FROM resources WHERE resource_type = 'AdverseEvent'`);
    const [state] = await getSyncStates(stack.tenantDb, [{ type: 'AdverseEvent', id: ae?.id as string }]);
    expect(state).toMatchObject({ status: 'synced' });
    expect(state?.ehrId).toBeTruthy();

    await syncPatient(stack.tenantDb, base, patientId, { settings });
    expect(await listUnsynced(stack.tenantDb, patientId)).toEqual([]);
    expect(await everything(stack.sandbox.url, 'AdverseEvent')).toHaveLength(1);
    const audit = await auditEhr(stack.db, stack.sandbox.url);
    expect(audit.duplicates).toEqual([]);
    expect(audit.missing).toEqual([]);
  });
});

describe('through the worker: an EHR that refuses a type its CapabilityStatement lists', () => {
  let stack: Stack;
  beforeAll(async () => {
    const types = ['Patient', 'QuestionnaireResponse', 'Observation', 'Provenance', 'CarePlan', 'Goal', 'Task'];
    // The statement the worker reads lists Consent, which this EHR then refuses.
    const lying: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (!String(input).endsWith('/metadata')) return res;
      const statement = (await res.json()) as CapabilityStatement;
      const rest = statement.rest?.[0];
      const patient = rest?.resource?.find((r) => r.type === 'Patient');
      const edited = {
        ...statement,
        rest: [{ ...rest, mode: 'server' as const, resource: [...(rest?.resource ?? []), { ...patient, type: 'Consent' as const }] }],
      };
      return new Response(JSON.stringify(edited), { status: 200, headers: { 'content-type': 'application/fhir+json' } });
    };
    stack = await startStack({}, { sandboxOptions: { resourceTypes: types }, ehrFetch: lying });
    stack.startWorker();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('a dead letter names the refused resource and the reason; the rest of the screening is on the EHR', async () => {
    await request(stack.app).post('/v1/screenings').send(screeningRequest()).expect(201);
    let dead: Array<{ id: number; topic: string; lastError: string }> = [];
    const deadline = Date.now() + 30_000;
    while (dead.length === 0 && Date.now() < deadline) {
      dead = (await request(stack.app).get('/v1/admin/dead-letters').expect(200)).body.deadLetters;
      if (dead.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({
      topic: 'ehr-sync',
      lastError: expect.stringMatching(
        /EHR refused 1 resource\(s\): Consent\/[0-9a-f-]+: EHR create Consent answered 404: Resource type not supported: Consent/,
      ),
    });
    const [consent] = await stack.db.query<{ id: string }>(`SELECT id FROM resources WHERE resource_type = 'Consent'`);
    const [state] = await getSyncStates(stack.tenantDb, [{ type: 'Consent', id: consent?.id as string }]);
    expect(state).toMatchObject({ status: 'failed', lastError: expect.stringContaining('Resource type not supported: Consent') });
    const local = (await stack.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resources WHERE resource_type = 'Observation'`))[0]
      ?.n;
    expect(await everything(stack.sandbox.url, 'Observation')).toHaveLength(local as number);
    expect(await everything(stack.sandbox.url, 'Patient')).toHaveLength(1);
  });
});

describe('an EHR that lost a resource the adapter synced (PUT answers 404)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ FOLLOW_UP_OFFSETS: 'PT1H,PT2H,PT3H' }, { sandboxOptions: { profile: 'default' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('creates it again, once', async () => {
    const screening = await request(stack.app).post('/v1/screenings').send(screeningRequest()).expect(201);
    const patientId = ((screening.body.resources as Bundle).entry ?? [])
      .map((e) => e.resource as Resource)
      .find((r) => r.resourceType === 'Patient')?.id as string;
    const course = await request(stack.app)
      .post('/v1/courses')
      .send({ screeningId: screening.body.screeningId, startDate: courseStartYesterday() })
      .expect(201);
    const s1 = await request(stack.app)
      .post(`/v1/courses/${course.body.courseId}/dosing-sessions`)
      .send(sessionRequest(1, new Date(Date.now() - 90 * 60_000)))
      .expect(201);
    const settings = writeSettingsFrom(stack.config);
    await syncPatient(stack.tenantDb, stack.ehr, patientId, { settings });
    const tasksBefore = await everything(stack.sandbox.url, 'Task');
    const [first] = s1.body.followUps as Array<{ id: string }>;
    const states = await getSyncStates(
      stack.tenantDb,
      (await stack.db.query<{ id: string }>(`SELECT id FROM resources WHERE resource_type = 'Task'`)).map((r) => ({
        type: 'Task',
        id: r.id,
      })),
    );
    // Someone deletes every Task on the EHR; completing the follow-up then updates one of them.
    for (const t of tasksBefore) expect((await fetch(`${stack.sandbox.url}/Task/${t.id}`, { method: 'DELETE' })).status).toBe(200);
    await request(stack.app).post(`/v1/follow-ups/${first?.id}/complete`).send({ completedAt: new Date().toISOString() }).expect(200);
    await syncPatient(stack.tenantDb, stack.ehr, patientId, { settings });
    expect(await listUnsynced(stack.tenantDb, patientId)).toEqual([]);
    const tasksAfter = await everything(stack.sandbox.url, 'Task');
    // The updated Task is there again, once, under a new id; the deleted others stay deleted (they did not change here).
    expect(tasksAfter).toHaveLength(1);
    expect(states.map((s) => s.ehrId)).not.toContain(tasksAfter[0]?.id);
    const now = await getSyncStates(
      stack.tenantDb,
      states.map((s) => ({ type: s.type, id: s.id })),
    );
    expect(now.filter((s) => s.ehrId === tasksAfter[0]?.id)).toEqual([expect.objectContaining({ status: 'synced' })]);
  });
});
