import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Patient, Subscription } from '@medplum/fhirtypes';
import request from 'supertest';
import { until } from '../bench/lib/report';
import { ehrAll } from './support/ehr-audit';
import { notification } from './support/notifications';
import { screeningRequest } from './support/requests';
import { startStack, type Stack } from './support/stack';

jest.setTimeout(120_000);

const SYSTEM = 'urn:oid:2.16.840.1.113883.19.5.99999.1';
describe('POST /v1/ehr-notifications (FHIR Subscriptions, R4 backport)', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ FOLLOW_UP_OFFSETS: 'PT1H,PT2H,PT3H' });
    stack.startWorker();
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function runningCourse(mrn: string): Promise<string> {
    const screening = await request(stack.app).post('/v1/screenings').send(screeningRequest({ patient: { system: SYSTEM, value: mrn } })).expect(201);
    const course = await request(stack.app).post('/v1/courses').send({ screeningId: screening.body.screeningId }).expect(201);
    return course.body.courseId as string;
  }
  const stoppedReason = async (courseId: string): Promise<string | null> =>
    (await request(stack.app).get(`/v1/courses/${courseId}`).expect(200)).body.stoppedReason;
  const history = async (): Promise<number> => Number((await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM resource_history'))[0]?.n);

  it('acknowledges a handshake and a heartbeat and changes nothing; refuses what is not a notification with an OperationOutcome', async () => {
    const before = await history();
    for (const type of ['handshake', 'heartbeat']) {
      const res = await request(stack.app).post('/v1/ehr-notifications').set('Content-Type', 'application/fhir+json').send(JSON.stringify(notification(type))).expect(200);
      expect(res.body).toMatchObject({ status: 'acknowledged', type });
    }
    expect(await history()).toBe(before);
    expect(Number((await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM inbound_messages'))[0]?.n)).toBe(0);
    const bad = await request(stack.app).post('/v1/ehr-notifications').send({ resourceType: 'Bundle', type: 'history', entry: [{ resource: { resourceType: 'Patient' } }] }).expect(400);
    expect(bad.body.resourceType).toBe('OperationOutcome');
    expect(bad.body.issue[0].expression[0]).toMatch(/^entry/);
  });

  it('a full-resource notification of a deceased Patient stops the course as deceased, once', async () => {
    const mrn = `NOTIF-${Date.now()}-full`;
    const courseId = await runningCourse(mrn);
    const patient: Patient = { resourceType: 'Patient', id: 'ehr-123', identifier: [{ system: SYSTEM, value: mrn }], deceasedDateTime: '2026-03-01T04:10:00+01:00' };
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
    const ehrPatient = ((await ehrAll(stack.sandbox.url, 'Patient')) as Patient[]).find((p) => p.identifier?.some((i) => i.value === mrn)) as Patient;
    expect(ehrPatient?.id).toBeDefined();
    // The hospital records the death in its EHR, which then notifies with the id only.
    const put = await fetch(`${stack.sandbox.url}/Patient/${ehrPatient.id}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify({ ...ehrPatient, deceasedBoolean: true }),
    });
    expect(put.status).toBe(200);
    await request(stack.app).post('/v1/ehr-notifications').send(notification('event-notification', { reference: `${stack.sandbox.url}/Patient/${ehrPatient.id}` })).expect(200);
    await until(async () => (await stoppedReason(courseId)) === 'deceased', 30_000, 'course stopped');
  });

  it('an id-only notification of a living patient changes no course', async () => {
    const mrn = `NOTIF-${Date.now()}-alive`;
    const courseId = await runningCourse(mrn);
    await stack.drained();
    const ehrPatient = ((await ehrAll(stack.sandbox.url, 'Patient')) as Patient[]).find((p) => p.identifier?.some((i) => i.value === mrn)) as Patient;
    const res = await request(stack.app).post('/v1/ehr-notifications').send(notification('event-notification', { reference: `Patient/${ehrPatient.id}` })).expect(200);
    await until(
      async () => (await stack.db.query<{ status: string }>('SELECT status FROM inbound_messages WHERE id = $1', [Number(res.body.notificationId)]))[0]?.status === 'processed',
      30_000,
      'notification applied',
    );
    expect(await stoppedReason(courseId)).toBeNull();
  });

  it('npm run ehr:subscribe creates the Patient and Encounter Subscriptions on the EHR once, in the R4 backport shape', async () => {
    const env = { ...process.env, EHR_BASE_URL: stack.sandbox.url, PUBLIC_BASE_URL: 'https://kap.example.org', EHR_SUBSCRIPTION_TOKEN: 'hook-token' };
    const script = resolve(__dirname, '../scripts/ehr-subscribe.mjs');
    for (let run = 0; run < 2; run++) await promisify(execFile)(process.execPath, [script], { env });
    const subscriptions = (await ehrAll(stack.sandbox.url, 'Subscription')) as Subscription[];
    expect(subscriptions).toHaveLength(2);
    for (const s of subscriptions) {
      expect(s.meta?.profile).toContain('http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription');
      expect(s.channel).toMatchObject({ type: 'rest-hook', endpoint: 'https://kap.example.org/v1/ehr-notifications', payload: 'application/fhir+json', header: ['Authorization: Bearer hook-token'] });
      expect((s.channel as { _payload?: { extension?: unknown[] } })._payload?.extension?.[0]).toEqual({ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content', valueCode: 'id-only' });
    }
    expect(subscriptions.map((s) => s.criteria).sort()).toEqual([stack.config.EHR_SUBSCRIPTION_TOPIC_ENCOUNTER, stack.config.EHR_SUBSCRIPTION_TOPIC_PATIENT].sort());
  });
});
