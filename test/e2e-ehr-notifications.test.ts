import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Communication, Patient, Subscription } from '@medplum/fhirtypes';
import { subscribeToEhr } from '@kap/worker';
import request from 'supertest';
import { until } from '@kap/testkit/poll';
import { ehrAll } from '@kap/testkit/ehr-audit';
import { notification } from '@kap/testkit/notifications';
import { screeningRequest } from '@kap/testkit/requests';
import { startStack, type Stack } from '@kap/testkit/stack';

jest.setTimeout(120_000);

const SYSTEM = 'urn:oid:2.16.840.1.113883.19.5.99999.1';
describe('POST /v1/ehr-notifications (FHIR Subscriptions: R4 backport and classic R4)', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ FOLLOW_UP_OFFSETS: 'PT1H,PT2H,PT3H' });
    stack.startWorker();
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function runningCourse(mrn: string): Promise<string> {
    const screening = await request(stack.app)
      .post('/v1/screenings')
      .send(screeningRequest({ patient: { system: SYSTEM, value: mrn } }))
      .expect(201);
    const course = await request(stack.app).post('/v1/courses').send({ screeningId: screening.body.screeningId }).expect(201);
    return course.body.courseId as string;
  }
  const stoppedReason = async (courseId: string): Promise<string | null> =>
    (await request(stack.app).get(`/v1/courses/${courseId}`).expect(200)).body.stoppedReason;
  const history = async (): Promise<number> =>
    Number((await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM resource_history'))[0]?.n);

  it('acknowledges a handshake and a heartbeat and changes nothing; refuses what is not a notification with an OperationOutcome', async () => {
    const before = await history();
    for (const type of ['handshake', 'heartbeat']) {
      const res = await request(stack.app)
        .post('/v1/ehr-notifications')
        .set('Content-Type', 'application/fhir+json')
        .send(JSON.stringify(notification(type)))
        .expect(200);
      expect(res.body).toMatchObject({ status: 'acknowledged', type });
    }
    expect(await history()).toBe(before);
    expect(Number((await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM inbound_messages'))[0]?.n)).toBe(0);
    const bad = await request(stack.app)
      .post('/v1/ehr-notifications')
      .send({ resourceType: 'Bundle', type: 'history', entry: [{ resource: { resourceType: 'Patient' } }] })
      .expect(400);
    expect(bad.body.resourceType).toBe('OperationOutcome');
    expect(bad.body.issue[0].expression[0]).toMatch(/^entry/);
  });

  it('a full-resource notification of a deceased Patient stops the course as deceased, once', async () => {
    const mrn = `NOTIF-${Date.now()}-full`;
    const courseId = await runningCourse(mrn);
    const patient: Patient = {
      resourceType: 'Patient',
      id: 'ehr-123',
      identifier: [{ system: SYSTEM, value: mrn }],
      deceasedDateTime: '2026-03-01T04:10:00+01:00',
    };
    const body = notification('event-notification', { reference: 'https://ehr.example.org/fhir/R4/Patient/ehr-123', resource: patient });
    const res = await request(stack.app).post('/v1/ehr-notifications').send(body).expect(200);
    expect(res.body.status).toBe('accepted');
    await until(async () => (await stoppedReason(courseId)) === 'deceased', 30_000, 'course stopped');
    await stack.drained();
    const before = await history();
    const again = await request(stack.app).post('/v1/ehr-notifications').send(body).expect(200);
    expect(again.body.status).toBe('duplicate');
    await stack.drained();
    expect(await history()).toBe(before);
  });

  it('an id-only notification reads the Patient from the EHR and stops the course as deceased', async () => {
    const mrn = `NOTIF-${Date.now()}-id`;
    const courseId = await runningCourse(mrn);
    await stack.drained();
    const ehrPatient = ((await ehrAll(stack.sandbox.url, 'Patient')) as Patient[]).find((p) =>
      p.identifier?.some((i) => i.value === mrn),
    ) as Patient;
    expect(ehrPatient?.id).toBeDefined();
    // The hospital records the death in its EHR, which then notifies with the id only.
    const put = await fetch(`${stack.sandbox.url}/Patient/${ehrPatient.id}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify({ ...ehrPatient, deceasedBoolean: true }),
    });
    expect(put.status).toBe(200);
    await request(stack.app)
      .post('/v1/ehr-notifications')
      .send(notification('event-notification', { reference: `${stack.sandbox.url}/Patient/${ehrPatient.id}` }))
      .expect(200);
    await until(async () => (await stoppedReason(courseId)) === 'deceased', 30_000, 'course stopped');
  });

  it('an id-only notification of a living patient changes no course', async () => {
    const mrn = `NOTIF-${Date.now()}-alive`;
    const courseId = await runningCourse(mrn);
    await stack.drained();
    const ehrPatient = ((await ehrAll(stack.sandbox.url, 'Patient')) as Patient[]).find((p) =>
      p.identifier?.some((i) => i.value === mrn),
    ) as Patient;
    const res = await request(stack.app)
      .post('/v1/ehr-notifications')
      .send(notification('event-notification', { reference: `Patient/${ehrPatient.id}` }))
      .expect(200);
    await until(
      async () =>
        (
          await stack.db.query<{ status: string }>('SELECT status FROM inbound_messages WHERE id = $1', [Number(res.body.notificationId)])
        )[0]?.status === 'processed',
      30_000,
      'notification applied',
    );
    expect(await stoppedReason(courseId)).toBeNull();
  });

  it('npm run ehr:subscribe creates the Patient and Encounter Subscriptions on the EHR once, in the R4 backport shape', async () => {
    const env = {
      ...process.env,
      EHR_BASE_URL: stack.sandbox.url,
      PUBLIC_BASE_URL: 'https://kap.example.org',
      EHR_SUBSCRIPTION_TOKEN: 'hook-token',
      EHR_SUBSCRIPTION_STYLE: 'backport',
    };
    const script = resolve(__dirname, '../scripts/ehr-subscribe.mjs');
    for (let run = 0; run < 2; run++) await promisify(execFile)(process.execPath, [script], { env });
    const subscriptions = (await ehrAll(stack.sandbox.url, 'Subscription')) as Subscription[];
    expect(subscriptions).toHaveLength(2);
    for (const s of subscriptions) {
      expect(s.meta?.profile).toContain('http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription');
      expect(s.channel).toMatchObject({
        type: 'rest-hook',
        endpoint: 'https://kap.example.org/v1/ehr-notifications',
        payload: 'application/fhir+json',
        header: ['Authorization: Bearer hook-token'],
      });
      expect((s.channel as { _payload?: { extension?: unknown[] } })._payload?.extension?.[0]).toEqual({
        url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content',
        valueCode: 'id-only',
      });
    }
    expect(subscriptions.map((s) => s.criteria).sort()).toEqual(
      [stack.config.EHR_SUBSCRIPTION_TOPIC_ENCOUNTER, stack.config.EHR_SUBSCRIPTION_TOPIC_PATIENT].sort(),
    );
  });

  it('npm run ehr:subscribe makes classic R4 Subscriptions on an EHR whose CapabilityStatement has no backport, once', async () => {
    const endpoint = 'https://kap-classic.example.org/v1/ehr-notifications';
    const env = {
      ...process.env,
      EHR_BASE_URL: stack.sandbox.url,
      PUBLIC_BASE_URL: 'https://kap-classic.example.org',
      EHR_SUBSCRIPTION_TOKEN: 'hook-token',
    };
    const script = resolve(__dirname, '../scripts/ehr-subscribe.mjs');
    const first = await promisify(execFile)(process.execPath, [script], { env });
    expect(first.stdout).toMatch(/classic \(the CapabilityStatement lists Subscription without the R4 backport\)/);
    expect(first.stdout.match(/created/g)).toHaveLength(2);
    const second = await promisify(execFile)(process.execPath, [script], { env });
    expect(second.stdout.match(/exists/g)).toHaveLength(2);
    const classic = ((await ehrAll(stack.sandbox.url, 'Subscription')) as Subscription[]).filter((s) => s.channel?.endpoint === endpoint);
    expect(classic.map((s) => s.criteria).sort()).toEqual(['Encounter?status=finished', 'Patient?deceased=true']);
    for (const s of classic) {
      expect(s.status).toBe('active');
      expect(s.meta?.profile).toBeUndefined();
      expect(s.channel).toMatchObject({
        type: 'rest-hook',
        endpoint,
        payload: 'application/fhir+json',
        header: ['Authorization: Bearer hook-token'],
      });
    }
    // A rotated token: the same two Subscriptions carry the new header, none is added.
    const rotated = await promisify(execFile)(process.execPath, [script], { env: { ...env, EHR_SUBSCRIPTION_TOKEN: 'hook-token-2' } });
    expect(rotated.stdout.match(/updated/g)).toHaveLength(2);
    const after = ((await ehrAll(stack.sandbox.url, 'Subscription')) as Subscription[]).filter((s) => s.channel?.endpoint === endpoint);
    expect(after.map((s) => s.channel.header)).toEqual([['Authorization: Bearer hook-token-2'], ['Authorization: Bearer hook-token-2']]);
  });

  it('a classic rest-hook posting a deceased Patient stops the course as deceased once; the same version again is a duplicate', async () => {
    const mrn = `CLASSIC-${Date.now()}-full`;
    const courseId = await runningCourse(mrn);
    const patient: Patient = {
      resourceType: 'Patient',
      id: 'ehr-classic-1',
      meta: { versionId: '7c1f0c1e-3a4b-4c5d-8e9f-000000000001', lastUpdated: '2026-12-07T01:00:00Z' },
      identifier: [{ system: SYSTEM, value: mrn }],
      deceasedDateTime: '2026-12-07T00:55:00Z',
    };
    const res = await request(stack.app)
      .post('/v1/ehr-notifications')
      .set('Content-Type', 'application/fhir+json')
      .send(JSON.stringify(patient))
      .expect(200);
    expect(res.body).toMatchObject({ status: 'accepted', type: 'rest-hook', events: 1 });
    await until(async () => (await stoppedReason(courseId)) === 'deceased', 30_000, 'course stopped');
    await stack.drained();
    const before = await history();
    const again = await request(stack.app)
      .post('/v1/ehr-notifications')
      .set('Content-Type', 'application/fhir+json')
      .send(JSON.stringify(patient))
      .expect(200);
    expect(again.body.status).toBe('duplicate');
    await stack.drained();
    expect(await history()).toBe(before);
    const stored = await stack.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM inbound_messages WHERE control_id = $1 AND status = 'processed'",
      [`Patient/ehr-classic-1/_history/${patient.meta?.versionId}`],
    );
    expect(stored[0]?.n).toBe(1);
  });

  it('a classic ping (no body) has the worker ask the EHR, which stops the course of a patient it recorded dead', async () => {
    const mrn = `CLASSIC-${Date.now()}-ping`;
    const courseId = await runningCourse(mrn);
    await stack.drained();
    const ehrPatient = ((await ehrAll(stack.sandbox.url, 'Patient')) as Patient[]).find((p) =>
      p.identifier?.some((i) => i.value === mrn),
    ) as Patient;
    expect(ehrPatient?.id).toBeDefined();
    const put = await fetch(`${stack.sandbox.url}/Patient/${ehrPatient.id}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify({ ...ehrPatient, deceasedDateTime: new Date().toISOString() }),
    });
    expect(put.status).toBe(200);
    const res = await request(stack.app).post('/v1/ehr-notifications').expect(200);
    expect(res.body).toMatchObject({ status: 'accepted', type: 'rest-hook-ping' });
    await until(async () => (await stoppedReason(courseId)) === 'deceased', 30_000, 'course stopped');
  });

  it('refuses a classic body of another type, or without id, with an OperationOutcome naming the field, and stores nothing', async () => {
    const before = Number((await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM inbound_messages'))[0]?.n);
    const other = await request(stack.app)
      .post('/v1/ehr-notifications')
      .send({ resourceType: 'Observation', id: 'o1', status: 'final', code: {} })
      .expect(400);
    expect(other.body.resourceType).toBe('OperationOutcome');
    expect(other.body.issue[0].expression).toEqual(['resourceType']);
    const noId = await request(stack.app)
      .post('/v1/ehr-notifications')
      .send({ resourceType: 'Patient', deceasedBoolean: true })
      .expect(400);
    expect(noId.body.issue[0].expression).toEqual(['id']);
    expect(Number((await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM inbound_messages'))[0]?.n)).toBe(before);
  });
});

describe('classic R4 Subscriptions fired by the EHR (sandbox rest-hooks), signed', () => {
  const SECRET = 'synthetic-hook-secret';
  let stack: Stack;
  let server: Server;
  let endpoint: string;

  beforeAll(async () => {
    stack = await startStack(
      { FOLLOW_UP_OFFSETS: 'PT1H,PT2H,PT3H', EHR_SUBSCRIPTION_SECRET: SECRET },
      { sandboxOptions: { restHooks: true } },
    );
    stack.startWorker();
    server = stack.app.listen(0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/ehr-notifications`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    await stack?.close();
  });

  const inbound = async (): Promise<number> =>
    Number((await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM inbound_messages'))[0]?.n);

  it('refuses a body without X-Signature or with a wrong one (401) and stores nothing; takes a signed one', async () => {
    const before = await inbound();
    const body = JSON.stringify({ resourceType: 'Patient', id: 'sig-1', meta: { versionId: 'a' } });
    const missing = await request(stack.app)
      .post('/v1/ehr-notifications')
      .set('Content-Type', 'application/fhir+json')
      .send(body)
      .expect(401);
    expect(missing.body.issue[0]).toMatchObject({ code: 'security', expression: ['header.X-Signature'] });
    await request(stack.app)
      .post('/v1/ehr-notifications')
      .set('Content-Type', 'application/fhir+json')
      .set('X-Signature', createHmac('sha256', 'wrong').update(body).digest('hex'))
      .send(body)
      .expect(401);
    expect(await inbound()).toBe(before);
    await request(stack.app)
      .post('/v1/ehr-notifications')
      .set('Content-Type', 'application/fhir+json')
      .set('X-Signature', createHmac('sha256', SECRET).update(body).digest('hex'))
      .send(body)
      .expect(200);
    expect(await inbound()).toBe(before + 1);
  });

  it('a death recorded in the EHR reaches the adapter through the classic Subscription and stops the course once, with one Communication', async () => {
    const outcome = await subscribeToEhr(stack.ehr, stack.config, { endpoint });
    expect(outcome.style).toBe('classic');
    const mrn = `HOOK-${Date.now()}`;
    const screening = await request(stack.app)
      .post('/v1/screenings')
      .send(screeningRequest({ patient: { system: SYSTEM, value: mrn } }))
      .expect(201);
    const course = await request(stack.app).post('/v1/courses').send({ screeningId: screening.body.screeningId }).expect(201);
    const courseId = course.body.courseId as string;
    await stack.drained();
    const ehrPatient = ((await ehrAll(stack.sandbox.url, 'Patient')) as Patient[]).find((p) =>
      p.identifier?.some((i) => i.value === mrn),
    ) as Patient;
    expect(ehrPatient?.id).toBeDefined();
    const beforeDeath = await inbound();
    const put = await fetch(`${stack.sandbox.url}/Patient/${ehrPatient.id}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify({ ...ehrPatient, deceasedDateTime: '2026-12-07T02:00:00Z' }),
    });
    expect(put.status).toBe(200);
    await until(
      async () => (await request(stack.app).get(`/v1/courses/${courseId}`).expect(200)).body.stoppedReason === 'deceased',
      30_000,
      'course stopped',
    );
    await stack.drained();
    expect(await inbound()).toBeGreaterThan(beforeDeath);
    const carePlan = await request(stack.app).get(`/fhir/R4/CarePlan/${course.body.carePlanId}`).expect(200);
    const patientId = String(carePlan.body.subject.reference).split('/')[1] as string;
    const communications = (await request(stack.app).get(`/fhir/R4/Communication?patient=${patientId}`).expect(200)).body.entry.map(
      (e: { resource: Communication }) => e.resource,
    );
    expect(communications.filter((c: Communication) => c.category?.[0]?.coding?.[0]?.code === 'care-plan-update')).toHaveLength(1);
    const stops = await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM inbound_messages WHERE outcome::text LIKE $1', [
      `%${courseId}%`,
    ]);
    expect(stops[0]?.n).toBe(1);
  });
});
