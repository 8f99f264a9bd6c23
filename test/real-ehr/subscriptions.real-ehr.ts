import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '@kap/config';
import type { EhrClient } from '@kap/ehr-client';
import { connectEhr } from '@kap/worker';
import { subscribeToEhr } from '@kap/worker';
import type { Communication, Patient, Subscription } from '@medplum/fhirtypes';
import request from 'supertest';
import { until } from '@kap/testkit/poll';
import { screeningRequest } from '@kap/testkit/requests';
import { startStack, type Stack } from '@kap/testkit/stack';
import { startTestIssuer, type TestIssuer } from '@kap/testkit/tokens';
import { realEhrConnections } from '@kap/testkit/real-ehr-environment';

/**
 * Against a real FHIR server that runs classic R4 Subscriptions (Medplum 5, as the EHR peer
 * builds it): a death recorded in the EHR reaches the adapter through the Subscription that
 * ehr:subscribe made, and stops the course once. Part of `npm run test:real-ehr`: the EHR is
 * named by the environment (packages/testkit/src/real-ehr-environment.ts) and must reach 127.0.0.1 (our rest-hook).
 */
const connection = realEhrConnections()[0];
const SYSTEM = 'urn:oid:2.16.840.1.113883.19.5.99999.1';
const ALL_SCOPES = 'kap/v1.read kap/v1.write kap/admin system/*.rs system/*.c';

if (!connection) {
  it('has no real EHR to test against', () => {
    process.stdout.write('test:real-ehr: no EHR configured for the subscriptions test: nothing ran\n');
  });
}
const describeReal = connection ? describe : describe.skip;
jest.setTimeout(240_000);

describeReal('classic R4 Subscriptions against a real EHR server', () => {
  const peer = connection?.env ?? {};
  let issuer: TestIssuer;
  let stack: Stack;
  let server: Server;
  let endpoint: string;
  let ehr: EhrClient;
  let token: string;

  beforeAll(async () => {
    issuer = await startTestIssuer();
    // The README's settings only: the adapter asks for its own scopes (none configured).
    const ehrSettings = { ...peer, EHR_TIMEOUT_MS: '20000' };
    // ehr:subscribe's connection, whose token also asks for Subscription.
    ehr = connectEhr(loadConfig(ehrSettings), { manages: ['Subscription'], userAgent: 'kap-ehr-subscribe' });
    stack = await startStack({
      ...issuer.env(),
      ...ehrSettings,
      FOLLOW_UP_OFFSETS: 'PT1H,PT2H,PT3H',
      // A fresh secret per run: the server signs every rest-hook body with it.
      EHR_SUBSCRIPTION_SECRET: randomBytes(16).toString('hex'),
    });
    stack.startWorker();
    server = stack.app.listen(0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/ehr-notifications`;
    token = await issuer.mint({ scope: ALL_SCOPES });
  });

  afterAll(async () => {
    // The Subscriptions point at a port that closes now: they are removed so the server stops calling it.
    if (ehr && endpoint) {
      for (const s of await ehr.searchAll('Subscription', { url: endpoint }).catch(() => [] as Subscription[])) {
        if (s.id)
          await fetch(`${stack.config.EHR_BASE_URL}/Subscription/${s.id}`, {
            method: 'DELETE',
            headers: { Authorization: `Bearer ${await bearer()}` },
          }).catch(() => undefined);
      }
    }
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server?.closeAllConnections();
    await stack?.close();
    await issuer?.close();
  });

  /** A token of the EHR's own, for what the hospital does there directly. */
  async function bearer(): Promise<string> {
    // The hospital's own client, with its full access (no scope asked), where the EHR issues one.
    const secret = process.env.EHR_CLIENT_SECRET;
    if (!secret || !process.env.EHR_CLIENT_ID) throw new Error('recording a death in the EHR needs EHR_CLIENT_ID and EHR_CLIENT_SECRET');
    const res = await fetch(peer.EHR_TOKEN_URL as string, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: process.env.EHR_CLIENT_ID, client_secret: secret }),
    });
    if (!res.ok) throw new Error(`token request: ${res.status}`);
    return ((await res.json()) as { access_token: string }).access_token;
  }
  const api = () => ({
    get: (path: string) => request(stack.app).get(path).set('Authorization', `Bearer ${token}`),
    post: (path: string) => request(stack.app).post(path).set('Authorization', `Bearer ${token}`),
  });

  it('ehr:subscribe makes classic Subscriptions there once; a death recorded in the EHR stops the course once, with one Communication', async () => {
    const hookToken = await issuer.mint({ scope: 'kap/v1.write', clientId: 'ehr-rest-hook', expiresIn: 3600 });
    const first = await subscribeToEhr(ehr, stack.config, { endpoint, token: hookToken });
    console.log(
      `ehr:subscribe: ${first.style} (${first.reason}): ${first.subscriptions.map((s) => `${s.status} ${s.criteria} ${s.location ?? ''}`).join('; ')}`,
    );
    expect(first.style).toBe('classic');
    expect(first.subscriptions.map((s) => s.status)).toEqual(['created', 'created']);
    const second = await subscribeToEhr(ehr, stack.config, { endpoint, token: hookToken });
    expect(second.subscriptions.map((s) => s.status)).toEqual(['exists', 'exists']);
    const onServer = await ehr.searchAll('Subscription', { url: endpoint });
    expect(onServer.map((s) => `${s.status} ${s.criteria}`).sort()).toEqual([
      'active Encounter?status=finished',
      'active Patient?deceased=true',
    ]);

    const mrn = `KAP-SUB-${Date.now()}`;
    const screening = await api()
      .post('/v1/screenings')
      .send(
        screeningRequest({
          patient: {
            system: SYSTEM,
            value: mrn,
            name: { family: 'Synthetic', given: ['Subscription'] },
            birthDate: '1950-04-02',
            gender: 'female',
          },
        }),
      )
      .expect(201);
    const course = await api().post('/v1/courses').send({ screeningId: screening.body.screeningId }).expect(201);
    const courseId = course.body.courseId as string;
    let ehrPatient: Patient | undefined;
    await until(
      async () => {
        ehrPatient = (await ehr.searchAll('Patient', { identifier: `${SYSTEM}|${mrn}` }))[0];
        return !!ehrPatient;
      },
      120_000,
      'the patient synced to the EHR',
    ).catch(async (err: unknown) => {
      // Why, from the adapter's side: what the EHR refused.
      const dead = (await api().get('/v1/admin/dead-letters').expect(200)).body;
      const status = (await api().get('/v1/admin/sync-status').expect(200)).body;
      throw new Error(
        `${String(err)}; sync-status ${JSON.stringify(status).slice(0, 1500)}; dead letters ${JSON.stringify(dead).slice(0, 2500)}`,
      );
    });
    console.log(`patient ${mrn} is Patient/${ehrPatient?.id} in the EHR; course ${courseId} running`);
    expect((await api().get(`/v1/courses/${courseId}`).expect(200)).body.stoppedReason).toBeNull();

    // The hospital records the death in its EHR, as its own client would.
    const put = await fetch(`${stack.config.EHR_BASE_URL}/Patient/${ehrPatient?.id}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/fhir+json', Authorization: `Bearer ${await bearer()}` },
      body: JSON.stringify({ ...ehrPatient, deceasedDateTime: '2026-12-07T03:00:00Z' }),
    });
    expect(put.status).toBe(200);

    await until(
      async () => (await api().get(`/v1/courses/${courseId}`).expect(200)).body.stoppedReason === 'deceased',
      120_000,
      'course stopped as deceased',
    );
    // Our own update of that Patient (deceased) goes back to the EHR, which then notifies us of it
    // too; that echo must change nothing. Syncs this EHR refuses for other reasons keep retrying,
    // and are named here rather than waited for: they are not what this test is about.
    await stack.drained(60_000).catch(async () => {
      const open = await stack.db.query<{ topic: string; last_error: string | null }>(
        'SELECT topic, last_error FROM outbox WHERE completed_at IS NULL',
      );
      console.log(
        `note: ${open.length} outbox row(s) still open, e.g. ${open[0]?.topic}: ${(open[0]?.last_error ?? 'no error yet').slice(0, 300)}`,
      );
    });
    // Every notification that came (the death, and the server telling us of our own update of that
    // Patient afterwards) is applied before counting.
    await until(
      async () =>
        Number((await stack.db.query<{ n: number }>("SELECT count(*)::int AS n FROM inbound_messages WHERE status = 'accepted'"))[0]?.n) ===
        0,
      60_000,
      'notifications applied',
    );
    const messages = await stack.db.query<{ message_type: string; status: string; outcome: unknown }>(
      "SELECT message_type, status, outcome FROM inbound_messages WHERE channel = 'fhir-notification' ORDER BY id",
    );
    console.log(`notifications received: ${messages.map((m) => `${m.message_type}:${m.status}`).join(', ')}`);
    const stops = messages.filter((m) => JSON.stringify(m.outcome ?? '').includes(courseId));
    expect(stops).toHaveLength(1);
    const carePlan = await api().get(`/fhir/R4/CarePlan/${course.body.carePlanId}`).expect(200);
    const patientId = String(carePlan.body.subject.reference).split('/')[1] as string;
    const told = ((await api().get(`/fhir/R4/Communication?patient=${patientId}`).expect(200)).body.entry ?? [])
      .map((e: { resource: Communication }) => e.resource)
      .filter((c: Communication) => c.category?.[0]?.coding?.[0]?.code === 'care-plan-update');
    expect(told).toHaveLength(1);
    console.log(`course ${courseId} stopped as deceased once; ${told.length} care-team Communication`);
  });
});
