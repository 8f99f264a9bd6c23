import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connectEhr, subscribeToEhr, bearerExpiryMs } from '@kap/worker';
import { startSandbox, type RunningSandbox } from '@kap/ehr-sandbox';
import type { Subscription } from '@medplum/fhirtypes';
import type { AuditEvent, Bundle, Resource } from '@medplum/fhirtypes';
import type { RunningMllpListener } from '@kap/mllp';
import { startStackMllp } from '@kap/testkit/mllp-listener';
import { frame, msa, rawMllp } from '@kap/testkit/mllp';
import { courseStartYesterday, screeningRequest } from '@kap/testkit/requests';
import { SignJWT, decodeProtectedHeader, generateKeyPair } from 'jose';
import request from 'supertest';
import { auditTrailOf } from '@kap/api';
import { until } from '@kap/testkit/poll';
import { notification } from '@kap/testkit/notifications';
import { startStack, type Stack } from '@kap/testkit/stack';
import { startTestIssuer, type TestIssuer } from '@kap/testkit/tokens';

jest.setTimeout(180_000);

const ENDPOINT = 'http://kap.test/v1/ehr-notifications';
const SYSTEM = 'urn:oid:2.16.840.1.113883.19.5.99999.1';
/** PHQ-9 with item 9 (thoughts of self-harm) answered: a safety alert. */
const ITEM9 = [2, 2, 1, 1, 1, 2, 1, 1, 2];
const NORTH_SCOPES = 'kap/v1.read kap/v1.write kap/admin system/*.rs system/*.c';
const NOTIFIER = { id: 'north-ehr-notifier', secret: 'north-notifier-secret-not-for-production' };

/** The issuer's token endpoint for the EHR's notification client (client credentials, HTTP Basic), as the worker asks it. */
async function startTokenEndpoint(issuer: TestIssuer): Promise<{ url: string; issued: () => number; close(): Promise<void> }> {
  let issued = 0;
  const expected = `Basic ${Buffer.from(`${NOTIFIER.id}:${NOTIFIER.secret}`).toString('base64')}`;
  const server: Server = createServer((req, res) => {
    if (req.method !== 'POST' || req.headers.authorization !== expected)
      return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
    issued += 1;
    void issuer
      .mint({ tenant: 'north', scope: 'kap/v1.write', clientId: NOTIFIER.id, expiresIn: 7200 })
      .then((token) =>
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 7200, scope: 'kap/v1.write' })),
      );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`,
    issued: () => issued,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const authHeader = (s: Subscription): string | undefined => s.channel?.header?.find((h) => /^Authorization:/i.test(h));
const tokenOf = (s: Subscription): string => (authHeader(s) ?? '').replace(/^Authorization:\s*Bearer\s+/i, '');

describe("tenant operations: notification tokens renewed per tenant; refused tokens in the deployment's audit record", () => {
  let issuer: TestIssuer;
  let north: RunningSandbox;
  let south: RunningSandbox;
  let tokenEndpoint: Awaited<ReturnType<typeof startTokenEndpoint>>;
  let stack: Stack;
  let mllp: RunningMllpListener;
  let workerStarted = false;
  const startWorkerOnce = (): void => {
    if (!workerStarted) stack.startWorker();
    workerStarted = true;
  };

  beforeAll(async () => {
    issuer = await startTestIssuer();
    north = await startSandbox({ port: 0 });
    south = await startSandbox({ port: 0 });
    tokenEndpoint = await startTokenEndpoint(issuer);
    const tenants = {
      tenants: [
        {
          id: 'north',
          env: {
            EHR_BASE_URL: north.url,
            EHR_SUBSCRIPTION_TOKEN_URL: tokenEndpoint.url,
            EHR_SUBSCRIPTION_CLIENT_ID: NOTIFIER.id,
            EHR_SUBSCRIPTION_CLIENT_SECRET: NOTIFIER.secret,
            // The token put there first has two minutes left: within the window, so the worker renews it at once.
            EHR_SUBSCRIPTION_RENEW_WITHIN: 'PT10M',
            // Short, as an operator could set it, so an unacknowledged alert escalates within the test.
            SAFETY_ALERT_ACK_WITHIN: 'PT2S',
            HL7_ASSIGNING_AUTHORITIES: `HOSP=${SYSTEM}`,
            HL7_SENDING_FACILITIES: 'NORTHHOSP',
          },
        },
        // South's token is fixed (EHR_SUBSCRIPTION_TOKEN): nothing renews it, nothing touches its Subscriptions.
        { id: 'south', env: { EHR_BASE_URL: south.url } },
      ],
    };
    // The per-address limit on unauthenticated requests would stop the flood below before it reaches the record.
    stack = await startStack(
      { ...issuer.env(), EHR_SUBSCRIPTION_RENEW_CHECK_MS: '1000', RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '100000' },
      { tenantsFile: { path: 'tenants.json', text: JSON.stringify(tenants) } },
    );
    mllp = await startStackMllp(stack);
  });
  afterAll(async () => {
    await mllp?.close();
    await stack?.close();
    await tokenEndpoint?.close();
    await north?.close();
    await south?.close();
    await issuer?.close();
  });

  const subscriptionsOn = async (sandbox: RunningSandbox): Promise<Subscription[]> =>
    (
      await connectEhr({ ...stack.config, EHR_BASE_URL: sandbox.url }, { manages: ['Subscription'] }).searchAll('Subscription', {
        url: ENDPOINT,
      })
    ).sort((a, b) => (a.criteria ?? '').localeCompare(b.criteria ?? ''));

  it("renews the token on a tenant's Subscriptions before it expires; the old token stays accepted until then, so no notification is refused", async () => {
    const northConfig = stack.tenants.get('north')!.config;
    const southConfig = stack.tenants.get('south')!.config;
    const oldToken = await issuer.mint({ tenant: 'north', scope: 'kap/v1.write', clientId: NOTIFIER.id, expiresIn: 120 });
    const southToken = await issuer.mint({ tenant: 'south', scope: 'kap/v1.write', clientId: 'south-ehr-notifier', expiresIn: 120 });
    await subscribeToEhr(connectEhr(northConfig, { manages: ['Subscription'] }), northConfig, { endpoint: ENDPOINT, token: oldToken });
    await subscribeToEhr(connectEhr(southConfig, { manages: ['Subscription'] }), southConfig, { endpoint: ENDPOINT, token: southToken });
    expect((await subscriptionsOn(north)).map(tokenOf)).toEqual([oldToken, oldToken]);

    startWorkerOnce();
    await until(async () => (await subscriptionsOn(north)).every((s) => tokenOf(s) !== oldToken), 30_000, 'north token renewed');
    const renewed = await subscriptionsOn(north);
    const newToken = tokenOf(renewed[0]!);
    expect(renewed.map(tokenOf)).toEqual([newToken, newToken]);
    expect(bearerExpiryMs(authHeader(renewed[0]!))! - bearerExpiryMs(`Authorization: Bearer ${oldToken}`)!).toBeGreaterThan(3600_000);
    // Renewed once, then left alone: the new token is far from expiry.
    await new Promise((r) => setTimeout(r, 3000));
    expect(tokenEndpoint.issued()).toBe(1);
    expect((await subscriptionsOn(north)).map(tokenOf)).toEqual([newToken, newToken]);
    // South has no token endpoint: its fixed token is left as it was.
    expect((await subscriptionsOn(south)).map(tokenOf)).toEqual([southToken, southToken]);

    // During the rotation the EHR may still send the old token: both are accepted, as north's.
    for (const token of [oldToken, newToken]) {
      const res = await request(stack.app)
        .post('/v1/ehr-notifications')
        .set('Authorization', `Bearer ${token}`)
        .send(notification('handshake'));
      expect(res.status).toBe(200);
    }
  });

  /** The issuer's current key id: a forged token names it, so the API does not read the JWKS again for it. */
  const issuerKid = async (): Promise<string> => decodeProtectedHeader(await issuer.mint()).kid as string;

  /** A token as an attacker would make it: the issuer's claims and key id, signed with a key the issuer never published. */
  async function forged(claims: Record<string, unknown>): Promise<string> {
    const { privateKey } = await generateKeyPair('RS256');
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: await issuerKid() })
      .setIssuer(issuer.issuer)
      .setAudience(issuer.audience)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(privateKey);
  }

  const deploymentAudit = async (): Promise<AuditEvent[]> => {
    await auditTrailOf(stack.app).flush();
    // The deployment's operator: kap/operator (a token still names a tenant the deployment serves).
    const operator = await issuer.mint({ tenant: 'north', scope: 'kap/operator', clientId: 'deployment-operator' });
    const res = await request(stack.app).get('/v1/operator/audit-events?limit=1000').set('Authorization', `Bearer ${operator}`).expect(200);
    return ((res.body as Bundle<AuditEvent>).entry ?? []).map((e) => e.resource as AuditEvent);
  };

  it("a refused token (401) is recorded for the deployment with the client it claims (unverified), the address and the reason, never the token; no tenant's trail has it", async () => {
    const bad = await forged({ client_id: 'intruder-app', tenant: 'north', scope: 'kap/v1.read' });
    for (let i = 0; i < 3; i++) await request(stack.app).get('/v1/alerts').set('Authorization', `Bearer ${bad}`).expect(401);
    const expired = await issuer.mint({ tenant: 'south', clientId: 'south-app', scope: 'kap/v1.read', expiresIn: -600 });
    await request(stack.app).get('/v1/alerts').set('Authorization', `Bearer ${expired}`).expect(401);
    await request(stack.app).get('/v1/alerts').expect(401);

    const events = await deploymentAudit();
    const text = JSON.stringify(events);
    for (const token of [bad, expired]) {
      expect(text).not.toContain(token);
      expect(text).not.toContain(token.split('.')[2]);
    }
    const intruder = events.find((e) => e.agent?.[0]?.who?.identifier?.value === 'intruder-app');
    expect(intruder).toMatchObject({
      resourceType: 'AuditEvent',
      type: { code: '110114' },
      subtype: [{ code: '110122' }],
      outcome: '4',
      agent: [
        { requestor: true, who: { display: 'client named by a refused token (unverified)' }, network: { type: '2' } },
        { requestor: false },
      ],
    });
    expect(intruder!.agent![0]!.network!.address).toMatch(/127\.0\.0\.1/);
    expect(intruder!.outcomeDesc).toMatch(/^HTTP 401: signature, algorithm or key not accepted; 3 time\(s\) in the minute from /);
    expect(events.find((e) => e.agent?.[0]?.who?.identifier?.value === 'south-app')?.outcomeDesc).toMatch(/^HTTP 401: expired; 1 time/);
    expect(events.some((e) => /^HTTP 401: no bearer token;/.test(e.outcomeDesc ?? ''))).toBe(true);

    // A tenant's administrator cannot read the deployment's record, and no tenant's trail holds the refusals.
    const northAdmin = await issuer.mint({ tenant: 'north', clientId: 'north-admin', scope: 'kap/admin kap/v1.read system/*.rs' });
    await request(stack.app).get('/v1/operator/audit-events').set('Authorization', `Bearer ${northAdmin}`).expect(403);
    const inTenantTrails = await stack.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_events WHERE content::text LIKE '%intruder-app%'",
    );
    expect(inTenantTrails[0]!.n).toBe(0);
  });

  // From one address the per-address limit stops a flood first; from many (a botnet) only this bound holds.
  it('a flood of refused tokens with made-up clients adds a bounded number of rows a minute, every refusal counted', async () => {
    const before = await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM deployment_audit');
    const FLOOD = 250;
    const { privateKey } = await generateKeyPair('RS256');
    const kid = await issuerKid();
    for (let i = 0; i < FLOOD; i++) {
      const token = await new SignJWT({ client_id: `flood-${i}` })
        .setProtectedHeader({ alg: 'RS256', kid })
        .setIssuer(issuer.issuer)
        .setAudience(issuer.audience)
        .setExpirationTime('5m')
        .sign(privateKey);
      await request(stack.app).get('/v1/alerts').set('Authorization', `Bearer ${token}`).expect(401);
    }
    await auditTrailOf(stack.app).flush();
    const after = await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM deployment_audit');
    // At most 100 keys and one overflow row a minute; the flood may straddle two minutes.
    expect(after[0]!.n - before[0]!.n).toBeLessThanOrEqual(2 * 101);
    const counted = await stack.db.query<{ n: number }>(
      "SELECT coalesce(sum(count), 0)::int AS n FROM deployment_audit WHERE client_id LIKE 'flood-%' OR reason LIKE 'more distinct refusals%'",
    );
    expect(counted[0]!.n).toBe(FLOOD);
    expect((await deploymentAudit()).some((e) => /more distinct refusals this minute/.test(e.outcomeDesc ?? ''))).toBe(true);
  });

  it("the worker's own writes of patient data each leave an AuditEvent in the tenant's trail, naming the adapter and the cause", async () => {
    startWorkerOnce();
    const token = await issuer.mint({ tenant: 'north', scope: NORTH_SCOPES, clientId: 'north-app' });
    const as = {
      get: (path: string) => request(stack.app).get(path).set('Authorization', `Bearer ${token}`),
      post: (path: string) => request(stack.app).post(path).set('Authorization', `Bearer ${token}`),
    };
    const mrn = `OPS-${Date.now()}`;
    const screening = await as
      .post('/v1/screenings')
      .send(
        screeningRequest({
          patient: {
            system: SYSTEM,
            value: mrn,
            name: { family: 'Synthetic', given: ['North'] },
            birthDate: '1950-04-02',
            gender: 'female',
          },
        }),
      )
      .expect(201);
    const patientId = ((screening.body.resources as Bundle).entry ?? [])
      .map((e) => e.resource as Resource)
      .find((r) => r.resourceType === 'Patient')?.id as string;
    const course = await as
      .post('/v1/courses')
      .send({ screeningId: screening.body.screeningId, startDate: courseStartYesterday() })
      .expect(201);
    await as
      .post(`/v1/courses/${course.body.courseId}/measures`)
      .send({ measuredAt: new Date(Date.now() - 60_000).toISOString(), phq9: ITEM9 })
      .expect(201);
    // The Patient must be in the EHR before the hospital's A08 can be pushed there.
    await stack.drained();

    // The trail as an outside checker reads it: the tenant's FHIR AuditEvent search by patient.
    const trail = async (): Promise<AuditEvent[]> =>
      ((await as.get(`/fhir/R4/AuditEvent?patient=${patientId}&_count=100`).expect(200)).body as Bundle<AuditEvent>).entry?.map(
        (e) => e.resource as AuditEvent,
      ) ?? [];
    const byActor = async (actor: string): Promise<AuditEvent[]> => (await trail()).filter((e) => e.agent?.[0]?.altId === actor);
    const cause = (e: AuditEvent) => e.entity?.find((x) => x.role?.code === '20')?.what?.identifier;

    // 1. Escalation: nobody acknowledges the alert within PT2S.
    const alerts = (await as.get(`/v1/alerts?patient=${patientId}&status=open`).expect(200)).body.alerts as { id: string }[];
    expect(alerts).toHaveLength(1);
    await until(async () => (await byActor('worker/safety-alert-escalation')).length > 0, 60_000, 'escalation audited');
    const [escalation] = await byActor('worker/safety-alert-escalation');
    expect(escalation).toMatchObject({
      action: 'C',
      outcome: '0',
      agent: [{ requestor: true, who: { display: 'KAP FHIR adapter' } }],
      entity: expect.arrayContaining([
        expect.objectContaining({ what: { reference: `Patient/${patientId}` } }),
        expect.objectContaining({ what: expect.objectContaining({ reference: expect.stringMatching(/^Communication\//) }) }),
      ]),
    });
    expect(cause(escalation!)).toEqual({ system: 'https://kap-adapter.org/fhir/sid/safety-alert', value: alerts[0]!.id });
    await as.post(`/v1/alerts/${alerts[0]!.id}/acknowledge`).send({ by: 'Dr. Synthetic' });

    // 2 and 3. The hospital's A08 renames the patient: the message applied, then the new name pushed to the EHR's Patient.
    const controlId = `OPS${Date.now().toString(36)}`;
    const a08 = [
      `MSH|^~\\&|EPIC|NORTHHOSP|KAP|PALLIATIVE|20260301120000+0100||ADT^A08^ADT_A01|${controlId}|P|2.5.1|||AL|NE`,
      'EVN|A08|20260301120000+0100',
      `PID|1||${mrn}^^^HOSP^MR||Renamed^North||19500402|F`,
      'PV1|1|I',
    ].join('\r');
    const raw = await rawMllp(mllp.port);
    try {
      await raw.write(frame(a08));
      expect(msa((await raw.acks(1))[0] as string)).toMatchObject({ code: 'AA', controlId });
    } finally {
      await raw.close();
    }
    await until(
      async () => (await byActor('worker/ehr-inbound')).length > 0 && (await byActor('worker/patient-demographics')).length > 0,
      60_000,
      'A08 applied and pushed, audited',
    );
    const messages = (await as.get('/v1/admin/inbound-messages?limit=100').expect(200)).body.inboundMessages as {
      id: string;
      controlId: string;
    }[];
    const messageId = messages.find((m) => m.controlId === controlId)?.id;
    expect(messageId).toBeDefined();
    const [applied] = await byActor('worker/ehr-inbound');
    expect(applied).toMatchObject({ action: 'U', outcome: '0', agent: [{ requestor: true }] });
    expect(cause(applied!)).toEqual({ system: 'https://kap-adapter.org/fhir/sid/inbound-message', value: String(messageId) });
    expect(applied!.entity?.find((x) => x.role?.code === '20')?.description).toMatch(/ADT\^A08/);
    const [pushed] = await byActor('worker/patient-demographics');
    expect(pushed).toMatchObject({ action: 'U', outcome: '0' });
    expect(pushed!.entity?.some((x) => x.what?.reference?.startsWith(`${north.url}/Patient/`))).toBe(true);
    expect(cause(pushed!)?.system).toBe('https://kap-adapter.org/fhir/sid/outbox');
    // One of each: nothing audited twice.
    for (const actor of ['worker/safety-alert-escalation', 'worker/ehr-inbound', 'worker/patient-demographics']) {
      const causes = (await byActor(actor)).map(
        (e) => JSON.stringify(cause(e)) + (e.entity?.find((x) => x.role?.code === '20')?.description ?? ''),
      );
      expect(new Set(causes).size).toBe(causes.length);
    }
  });
});
