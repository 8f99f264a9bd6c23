import { writeSettingsFrom, type EhrClient } from '@kap/ehr-client';
import { RESOURCE_IDENTIFIER_SYSTEM } from '@kap/fhir';
import { receiveInboundMessage } from '@kap/queue';
import { getSyncStates, listUnsynced } from '@kap/store';
import type { Bundle, CapabilityStatement, Observation, Patient, Resource } from '@medplum/fhirtypes';
import request from 'supertest';
import { spawnWorkerProcess } from '@kap/testkit/drill';
import { until } from '@kap/testkit/poll';
import { reconcileWithEhr } from '@kap/worker';
import { syncPatient } from '@kap/worker';
import { everything, runWholeCourse } from '@kap/testkit/course-flow';
import { screeningRequest } from '@kap/testkit/requests';
import { startStack, type Stack } from '@kap/testkit/stack';

jest.setTimeout(240_000);

/**
 * The EHR most hospitals run (the sandbox's `vitals-notes` profile): Patient read and search
 * only; Observation (vital-signs and survey) created, never updated; DocumentReference created
 * and updated; no conditional create (If-None-Exist ignored: a second POST duplicates); no
 * transaction or batch; every other type refused.
 */
const EHR = { sandboxOptions: { profile: 'vitals-notes' as const } };
/**
 * As hospital IT sets this EHR up after ehr:check: the categories it takes, and the profile
 * claim it refuses (it validates claims as Medplum 5.0.10 does, refusing every bp claim).
 */
const SETTINGS = { EHR_OBSERVATION_CATEGORIES: 'vital-signs,survey', EHR_UNCLAIMED_PROFILES: 'http://hl7.org/fhir/StructureDefinition/bp' };

/** The hospital registers the patient in its EHR (its own id, its own record). */
async function registerInEhr(stack: Stack, patientId: string): Promise<string> {
  const [row] = await stack.db.query<{ content: Patient }>(`SELECT content FROM resources WHERE resource_type = 'Patient' AND id = $1`, [
    patientId,
  ]);
  const mrn = row?.content.identifier?.find((i) => i.system !== RESOURCE_IDENTIFIER_SYSTEM);
  const created = await stack.sandbox.sandbox.seed<Patient>({
    resourceType: 'Patient',
    identifier: [{ system: mrn?.system, value: mrn?.value }],
    name: [{ family: 'Synthetic', given: ['Registered'] }],
  });
  return created.id as string;
}

const localObservations = async (stack: Stack, patientId: string): Promise<Observation[]> =>
  (
    await stack.db.query<{ content: Observation }>(
      `SELECT content FROM resources WHERE resource_type = 'Observation' AND patient_id = $1`,
      [patientId],
    )
  ).map((r) => r.content);

const categoryOf = (o: Observation): string | undefined => o.category?.[0]?.coding?.[0]?.code;
const ourIdentifier = (r: Resource): string | undefined =>
  ((r as Observation).identifier ?? []).find((i) => i.system === RESOURCE_IDENTIFIER_SYSTEM)?.value;

/** Requests the sandbox refused (4xx): the adapter attempted something this EHR does not take. */
const refusals = (stack: Stack): number =>
  Object.entries(stack.sandbox.sandbox.stats().requests.byStatus)
    .filter(([status]) => status.startsWith('4'))
    .reduce((n, [, count]) => n + count, 0);

async function syncView(
  stack: Stack,
  courseId: string,
): Promise<Array<{ reference: string; status: string; ehrReference: string | null; lastError: string | null }>> {
  return (await request(stack.app).get(`/v1/courses/${courseId}`).expect(200)).body.sync;
}

describe('an EHR that may not create Patients and takes vital signs and notes only', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ...SETTINGS, EHR_PATIENT_RECHECK_MS: '300' }, EHR);
    stack.startWorker();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('a whole course waits for the hospital Patient, then puts the vitals there against it, attempting nothing the EHR refuses', async () => {
    const run = await runWholeCourse(stack);
    const observations = await localObservations(stack, run.patientId);
    const sent = observations.filter((o) => ['vital-signs', 'survey'].includes(categoryOf(o) ?? ''));
    expect(sent.length).toBeGreaterThan(0);

    // Unknown to the EHR: the Patient and what it would take wait; everything else is not-sent, nothing failed.
    await until(
      async () => (await syncView(stack, run.courseId)).every((s) => s.status === 'waiting-for-patient' || s.status === 'not-sent'),
      60_000,
      'every resource to wait for the Patient or be kept back',
      250,
    );
    const waiting = await syncView(stack, run.courseId);
    expect(waiting.filter((s) => s.status === 'failed')).toEqual([]);
    expect(waiting.find((s) => s.reference === `Patient/${run.patientId}`)).toMatchObject({
      status: 'waiting-for-patient',
      lastError: expect.stringMatching(/no Patient with the hospital's identifier/),
    });
    for (const s of waiting.filter((x) => !['Patient', 'Observation', 'DocumentReference'].includes(x.reference.split('/')[0] as string))) {
      expect([s.reference, s.status]).toEqual([s.reference, 'not-sent']);
    }
    // One job does the waiting for the patient; the rows of the others are done with it.
    const openRows = async (): Promise<number> =>
      (
        await stack.db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM outbox WHERE topic = 'ehr-sync' AND patient_id = $1 AND completed_at IS NULL",
          [run.patientId],
        )
      )[0]?.n ?? -1;
    await until(async () => (await openRows()) === 1, 30_000, 'one open sync row for the waiting patient', 250);
    const status = await request(stack.app).get('/v1/admin/sync-status').expect(200);
    expect(status.body.tenants[0].waitingForPatient).toBeGreaterThan(0);
    expect(await everything(stack.sandbox.url, 'Observation')).toEqual([]);

    // The hospital registers the patient: the recheck finds it and the sync goes on by itself.
    const ehrPatientId = await registerInEhr(stack, run.patientId);
    await until(
      async () => (await syncView(stack, run.courseId)).every((s) => s.status === 'synced' || s.status === 'not-sent'),
      90_000,
      'the sync to go on',
      250,
    );
    const done = await syncView(stack, run.courseId);
    expect(done.find((s) => s.reference === `Patient/${run.patientId}`)).toMatchObject({
      status: 'synced',
      ehrReference: `Patient/${ehrPatientId}`,
    });
    for (const o of observations) {
      const state = done.find((s) => s.reference === `Observation/${o.id}`);
      expect([o.id, state?.status]).toEqual([o.id, sent.includes(o) ? 'synced' : 'not-sent']);
      if (!sent.includes(o)) expect(state?.lastError).toMatch(/not in EHR_OBSERVATION_CATEGORIES/);
    }

    // Each vital sign and survey exactly once, in the hospital Patient's chart; no Patient created.
    const inEhr = (await everything(stack.sandbox.url, 'Observation')) as Observation[];
    expect(inEhr.map(ourIdentifier).sort()).toEqual(sent.map((o) => o.id).sort());
    expect(new Set(inEhr.map((o) => o.subject?.reference))).toEqual(new Set([`Patient/${ehrPatientId}`]));
    expect(await everything(stack.sandbox.url, 'Patient')).toHaveLength(1);
    expect(refusals(stack)).toBe(0);
  });

  it('a revision of an Observation the EHR holds (the eligibility amended at review) stays here, said so: the EHR takes no update of it', async () => {
    const screening = await request(stack.app)
      .post('/v1/screenings')
      .send(screeningRequest({ contraindications: { recurrentCystitis: true } }))
      .expect(201);
    expect(screening.body.outcome).toBe('needs-review');
    const patientId = (screening.body.resources as Bundle).entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource
      ?.id as string;
    await registerInEhr(stack, patientId);
    const eligibility = (await localObservations(stack, patientId)).find(
      (o) => o.hasMember?.length || o.code.coding?.some((c) => c.code === 'eligibility'),
    ) as Observation;
    const stateOf = async (): Promise<{ status: string; lastError: string | null } | undefined> =>
      (await getSyncStates(stack.tenantDb, [{ type: 'Observation', id: eligibility.id as string }]))[0];
    await until(async () => (await stateOf())?.status === 'synced', 60_000, 'the eligibility Observation synced', 250);
    const before = refusals(stack);
    await request(stack.app)
      .post(`/v1/screenings/${screening.body.screeningId}/review`)
      .send({ decision: 'approved', reviewer: 'Dr Synthetic', note: 'Reviewed' })
      .expect(200);
    await until(async () => (await stateOf())?.status === 'not-sent', 60_000, 'the amended version kept here', 250);
    expect((await stateOf())?.lastError).toMatch(/EHR takes no update of Observation: it keeps version 1 as sent; version 2 stays here/);
    expect(refusals(stack)).toBe(before);
  });
});

describe('exactly once without conditional create', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ...SETTINGS, EHR_PATIENT_RECHECK_MS: '300' }, EHR);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('a worker killed between a create and its record, then two workers, leave no duplicate; a reconcile reports one made outside and deletes nothing', async () => {
    const patients: string[] = [];
    for (let i = 0; i < 3; i++) {
      const screening = await request(stack.app).post('/v1/screenings').send(screeningRequest()).expect(201);
      const patientId = ((screening.body.resources as Bundle).entry ?? [])
        .map((e) => e.resource as Resource)
        .find((r) => r.resourceType === 'Patient')?.id as string;
      await registerInEhr(stack, patientId);
      patients.push(patientId);
    }
    const [first] = patients as [string];
    const settings = writeSettingsFrom(stack.config);
    // The statement as the worker reads it, then a client that dies once its second create is done, before the answer is recorded.
    const ehr: EhrClient = stack.ehr;
    let creates = 0;
    const dying: EhrClient = {
      ...ehr,
      create: async (resource, options) => {
        expect(options?.ifNoneExist).toBeUndefined();
        const written = await ehr.create(resource, options);
        if (++creates === 2) throw new Error('worker killed');
        return written;
      },
    };
    await expect(syncPatient(stack.tenantDb, dying, first, { settings })).rejects.toThrow('worker killed');
    const lost = (await everything(stack.sandbox.url, 'Observation')).map(ourIdentifier);
    expect(lost).toHaveLength(2);
    const [lostState] = await getSyncStates(stack.tenantDb, [{ type: 'Observation', id: lost[1] as string }]);
    expect(lostState?.ehrId ?? null).toBeNull();

    // Two workers take the outbox rows the screenings left, the killed patient's among them.
    stack.startWorker('a');
    stack.startWorker('b');
    await stack.drained(120_000);
    for (const patientId of patients)
      expect((await listUnsynced(stack.tenantDb, patientId)).filter((u) => u.status !== 'not-sent')).toEqual([]);
    const all = (await everything(stack.sandbox.url, 'Observation')) as Observation[];
    const ids = all.map(ourIdentifier);
    expect(ids.length).toBeGreaterThan(3);
    expect(new Set(ids).size).toBe(ids.length);
    expect(refusals(stack)).toBe(0);

    // Someone else copies one of ours into the EHR: the reconcile names it and leaves both.
    const copied = all.find((o) => o.subject?.reference) as Observation;
    const { id: _id, meta: _meta, ...rest } = copied;
    await stack.sandbox.sandbox.seed<Observation>(rest);
    const found = await reconcileWithEhr(stack.tenantDb, stack.ehr, settings);
    const flagged = found.filter((r) => (r.duplicates?.length ?? 0) > 0);
    expect(flagged).toEqual([
      expect.objectContaining({
        resource: `Observation/${ourIdentifier(copied)}`,
        ehr: `Observation/${copied.id}`,
        duplicates: [expect.stringMatching(/^Observation\//)],
      }),
    ]);
    expect(await everything(stack.sandbox.url, 'Observation')).toHaveLength(all.length + 1);
  });
});

describe('a waiting sync woken by the hospital', () => {
  let stack: Stack;
  beforeAll(async () => {
    // Rechecks far apart: only the ADT message or the reconcile can wake the sync within the test.
    stack = await startStack({ ...SETTINGS, EHR_PATIENT_RECHECK_MS: '3600000' }, EHR);
    stack.startWorker();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const waitingPatient = async (): Promise<{ patientId: string; mrn: { system: string; value: string } }> => {
    const screening = screeningRequest();
    const res = await request(stack.app).post('/v1/screenings').send(screening).expect(201);
    const patientId = ((res.body.resources as Bundle).entry ?? [])
      .map((e) => e.resource as Resource)
      .find((r) => r.resourceType === 'Patient')?.id as string;
    await until(
      async () => (await getSyncStates(stack.tenantDb, [{ type: 'Patient', id: patientId }]))[0]?.status === 'waiting-for-patient',
      60_000,
      'the sync to wait',
      250,
    );
    return { patientId, mrn: { system: screening.patient.system, value: screening.patient.value } };
  };

  it('an ADT A08 for the patient makes the sync look again at once, and never writes the hospital Patient', async () => {
    const { patientId, mrn } = await waitingPatient();
    const ehrPatientId = await registerInEhr(stack, patientId);
    const text = `MSH|^~\\&|EPIC|GEN|KAP|PALL|20260301||ADT^A08|A08-${patientId}|P|2.5.1\rPID|1||${mrn.value}^^^&${mrn.system.replace(/^urn:oid:/, '')}&ISO^MR||Renamed^Synthetic`;
    await receiveInboundMessage(stack.tenantDb, {
      channel: 'hl7v2',
      sender: 'EPIC|GEN',
      controlId: `A08-${patientId}`,
      messageType: 'ADT^A08',
      content: text,
      status: 'accepted',
    });
    await until(
      async () => (await listUnsynced(stack.tenantDb, patientId)).every((u) => u.status === 'not-sent'),
      60_000,
      'the A08 to wake the sync',
      250,
    );
    expect((await getSyncStates(stack.tenantDb, [{ type: 'Patient', id: patientId }]))[0]).toMatchObject({
      status: 'synced',
      ehrId: ehrPatientId,
    });
    await stack.drained(60_000);
    // The new name is ours to keep; the EHR's Patient is the hospital's, and this EHR takes no Patient writes.
    const [inEhr] = (await everything(stack.sandbox.url, 'Patient')).filter((p) => p.id === ehrPatientId) as Patient[];
    expect(inEhr?.name?.[0]?.family).toBe('Synthetic');
    expect(refusals(stack)).toBe(0);
  });

  it('a reconcile makes the sync look again', async () => {
    const { patientId } = await waitingPatient();
    await registerInEhr(stack, patientId);
    await request(stack.app).post('/v1/admin/reconcile').send({}).expect(202);
    await until(
      async () => (await listUnsynced(stack.tenantDb, patientId)).every((u) => u.status === 'not-sent'),
      60_000,
      'the reconcile to wake the sync',
      250,
    );
    expect((await getSyncStates(stack.tenantDb, [{ type: 'Patient', id: patientId }]))[0]?.status).toBe('synced');
    expect(refusals(stack)).toBe(0);
  });
});

describe('a resource the EHR refuses, beside resources it does not take', () => {
  let stack: Stack;
  beforeAll(async () => {
    // The statement the worker reads claims Consent too, which this EHR then refuses.
    const claimsConsent: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (!String(input).endsWith('/metadata')) return res;
      const statement = (await res.json()) as CapabilityStatement;
      const rest = statement.rest?.[0];
      const observation = rest?.resource?.find((r) => r.type === 'Observation');
      const edited = {
        ...statement,
        rest: [{ ...rest, mode: 'server' as const, resource: [...(rest?.resource ?? []), { ...observation, type: 'Consent' as const }] }],
      };
      return new Response(JSON.stringify(edited), { status: 200, headers: { 'content-type': 'application/fhir+json' } });
    };
    stack = await startStack(
      { ...SETTINGS, EHR_RESOURCE_TYPES: 'Observation,DocumentReference,Consent' },
      { ...EHR, ehrFetch: claimsConsent },
    );
    stack.startWorker();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('the refused one is failed with its reason; the kept-back ones stay not-sent, never failed with its error', async () => {
    const screening = await request(stack.app).post('/v1/screenings').send(screeningRequest()).expect(201);
    const resources = ((screening.body.resources as Bundle).entry ?? []).map((e) => e.resource as Resource);
    const patientId = resources.find((r) => r.resourceType === 'Patient')?.id as string;
    await registerInEhr(stack, patientId);
    const settled = async (): Promise<boolean> =>
      (
        await stack.db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM outbox WHERE topic = 'ehr-sync' AND completed_at IS NULL AND dead_at IS NULL",
        )
      )[0]?.n === 0 && (await listUnsynced(stack.tenantDb, patientId)).every((u) => u.status === 'failed' || u.status === 'not-sent');
    await until(settled, 60_000, 'the sync to end in a dead letter', 250);
    expect((await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE dead_at IS NOT NULL'))[0]?.n).toBeGreaterThan(
      0,
    );
    const states = await getSyncStates(
      stack.tenantDb,
      resources.map((r) => ({ type: r.resourceType, id: r.id as string })),
    );
    const byType = (type: string) => states.filter((s) => s.type === type);
    expect(byType('Consent').map((s) => s.status)).toEqual(['failed']);
    expect(byType('QuestionnaireResponse').map((s) => [s.status, s.lastError])).toEqual([
      ['not-sent', expect.stringMatching(/not in EHR_RESOURCE_TYPES/)],
    ]);
    expect(byType('Patient').map((s) => s.status)).toEqual(['synced']);
    expect(byType('Observation').every((s) => s.status === 'synced')).toBe(true);
    expect(states.filter((s) => s.status === 'failed').map((s) => s.type)).toEqual(['Consent']);
  });
});

describe('a worker process killed while its create is in flight', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ...SETTINGS, EHR_PATIENT_RECHECK_MS: '300' }, EHR);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('leaves a copy the EHR made but nobody recorded, which the next worker finds instead of creating it again', async () => {
    const screening = await request(stack.app).post('/v1/screenings').send(screeningRequest()).expect(201);
    const patientId = ((screening.body.resources as Bundle).entry ?? [])
      .map((e) => e.resource as Resource)
      .find((r) => r.resourceType === 'Patient')?.id as string;
    await registerInEhr(stack, patientId);
    const sandbox = stack.sandbox.sandbox;
    const worker = spawnWorkerProcess(stack, { ...SETTINGS, EHR_PATIENT_RECHECK_MS: '300' });
    const exited = new Promise((r) => worker.once('exit', r));
    // The worker process dies the moment the EHR has made its second Observation, before the
    // answer reaches it: the copy is there and nobody recorded it.
    const repository = sandbox.repository;
    const create = repository.createResource.bind(repository);
    let creates = 0;
    repository.createResource = async (resource, options) => {
      const made = await create(resource, options);
      if (resource.resourceType === 'Observation' && ++creates === 2) worker.kill('SIGKILL');
      return made;
    };
    try {
      await exited;
    } finally {
      repository.createResource = create;
      worker.kill('SIGKILL');
    }
    const left = (await everything(stack.sandbox.url, 'Observation')).map(ourIdentifier) as string[];
    const recorded = await getSyncStates(
      stack.tenantDb,
      left.map((id) => ({ type: 'Observation', id })),
    );
    expect(recorded.filter((s) => s.ehrId).length).toBeLessThan(left.length);

    // A fresh worker takes over once the dead one's job lock and patient lease expire.
    stack.startWorker('after-kill');
    await stack.drained(120_000);
    expect((await listUnsynced(stack.tenantDb, patientId)).filter((u) => u.status !== 'not-sent')).toEqual([]);
    const ids = (await everything(stack.sandbox.url, 'Observation')).map(ourIdentifier);
    expect(new Set(ids).size).toBe(ids.length);
    const local = await localObservations(stack, patientId);
    expect(ids.sort()).toEqual(local.map((o) => o.id).sort());
    expect(refusals(stack)).toBe(0);
  });
});
