import { startSandbox, type RunningSandbox } from '@kap/ehr-sandbox';
import type { Bundle, CarePlan, Patient, Resource } from '@medplum/fhirtypes';
import { createKapClient, type KapClient, type OperationArgs } from '@kap/client';
import { refusal, serveClient, type ServedClient } from '@kap/testkit/client';
import { until } from '@kap/testkit/poll';
import type { RunningMllpListener } from '@kap/mllp';
import { startStackMllp } from '@kap/testkit/mllp-listener';
import { ehrAll } from '@kap/testkit/ehr-audit';
import { frame, msa, rawMllp } from '@kap/testkit/mllp';
import { notification } from '@kap/testkit/notifications';
import { screeningRequest, sessionOneRequest, courseStartYesterday } from '@kap/testkit/requests';
import { startStack, startWebhookReceiver, type Stack } from '@kap/testkit/stack';
import { startTestIssuer, type TestIssuer } from '@kap/testkit/tokens';

jest.setTimeout(180_000);

/** Every scope docs/api.md#authentication-and-tenants names, so these tests keep passing once scopes are checked. */
const ALL_SCOPES = 'kap/v1.read kap/v1.write kap/admin system/*.rs system/*.c';
const SYSTEM = 'urn:oid:2.16.840.1.113883.19.5.99999.1';
const SOUTH_SECRET = 'south-test-secret-not-for-production';

type Receiver = Awaited<ReturnType<typeof startWebhookReceiver>>;

/**
 * Two hospitals on one deployment, each with its own EHR, webhooks, follow-up timing and
 * screening thresholds, from a YAML tenants file. A third EHR is the environment's: no
 * tenant names it, so nothing may ever reach it.
 */
describe('tenants: each its own EHR, webhooks, rules and timing', () => {
  let issuer: TestIssuer;
  let north: RunningSandbox;
  let south: RunningSandbox;
  let hooksNorth: Receiver;
  let hooksSouth: Receiver;
  let stack: Stack;
  let mllp: RunningMllpListener;
  let served: ServedClient;
  const tokens: Record<'north' | 'south', string> = { north: '', south: '' };

  beforeAll(async () => {
    issuer = await startTestIssuer();
    north = await startSandbox({ port: 0 });
    south = await startSandbox({ port: 0 });
    hooksNorth = await startWebhookReceiver();
    hooksSouth = await startWebhookReceiver(undefined, SOUTH_SECRET);
    const yaml = [
      'tenants:',
      '  - id: north',
      '    name: North Hospice',
      '    env:',
      `      EHR_BASE_URL: ${north.url}`,
      `      WEBHOOK_URLS: [${hooksNorth.url}]`,
      '      FOLLOW_UP_OFFSETS: PT1H,PT2H',
      '      SCREENING_BP_SYSTOLIC_ABOVE: 150',
      `      HL7_ASSIGNING_AUTHORITIES: HOSP=${SYSTEM}`,
      '      HL7_SENDING_FACILITIES: [NORTHHOSP]',
      '  - id: south',
      '    name: South Palliative',
      '    env:',
      `      EHR_BASE_URL: ${south.url}`,
      `      WEBHOOK_URLS: ${hooksSouth.url}`,
      `      WEBHOOK_SECRET: ${SOUTH_SECRET}`,
      '      FOLLOW_UP_OFFSETS: PT5H',
      `      HL7_ASSIGNING_AUTHORITIES: HOSP=${SYSTEM}`,
      '      HL7_SENDING_FACILITIES: SOUTHHOSP',
    ].join('\n');
    stack = await startStack(issuer.env(), { tenantsFile: { path: 'tenants.yaml', text: yaml } });
    served = await serveClient(stack.app);
    stack.startWorker();
    mllp = await startStackMllp(stack);
    tokens.north = await issuer.mint({ tenant: 'north', scope: ALL_SCOPES, clientId: 'north-app' });
    tokens.south = await issuer.mint({ tenant: 'south', scope: ALL_SCOPES, clientId: 'south-app' });
  });

  afterAll(async () => {
    await mllp?.close();
    await served?.close();
    await stack?.close();
    await Promise.all([north?.close(), south?.close(), hooksNorth?.close(), hooksSouth?.close(), issuer?.close()]);
  });

  /** A hospital's own client: the SDK with that tenant's token, as each hospital's integration would hold it. */
  const clients = new Map<string, KapClient>();
  const as = (tenant: 'north' | 'south'): KapClient => {
    if (!clients.has(tenant)) clients.set(tenant, createKapClient({ baseUrl: served.baseUrl, token: () => tokens[tenant] }));
    return clients.get(tenant) as KapClient;
  };
  const withToken = (token: string): KapClient => createKapClient({ baseUrl: served.baseUrl, token });

  /** Screening (blood pressure 145/85), course and session 1 for one tenant; the screening's outcome decides whether a course can start. */
  async function enrolAs(tenant: 'north' | 'south', mrn: string) {
    const screening = await as(tenant).createScreening({
      body: screeningRequest({
        patient: { system: SYSTEM, value: mrn, name: { family: 'Synthetic', given: [tenant] }, birthDate: '1950-04-02', gender: 'female' },
      }),
    });
    const patientId = ((screening.resources as unknown as Bundle).entry ?? [])
      .map((e) => e.resource as Resource)
      .find((r) => r.resourceType === 'Patient')?.id as string;
    const course = await as(tenant).createCourse({ body: { screeningId: screening.screeningId, startDate: courseStartYesterday() } });
    const start = new Date(Date.now() - 2 * 3600_000);
    const session = await as(tenant).createDosingSession({
      path: { id: course.courseId },
      body: sessionOneRequest(start) as OperationArgs<'createDosingSession'>['body'],
    });
    return { patientId, courseId: course.courseId, carePlanId: course.carePlanId, session, end: new Date(start.getTime() + 80 * 60_000) };
  }

  const patientsWith = async (ehr: RunningSandbox, mrn: string): Promise<Patient[]> =>
    ((await ehrAll(ehr.url, 'Patient')) as Patient[]).filter((p) => p.identifier?.some((i) => i.system === SYSTEM && i.value === mrn));

  /** The EHR's copy of a course's CarePlan, by the reference the course view reports. */
  async function ehrCarePlan(tenant: 'north' | 'south', courseId: string, ehr: RunningSandbox): Promise<CarePlan | undefined> {
    const view = await as(tenant).getCourse({ path: { id: courseId } });
    const ref = view.sync.find((r) => r.reference.startsWith('CarePlan/'))?.ehrReference;
    if (!ref) return undefined;
    const res = await fetch(`${ehr.url}/${ref}`, { headers: { Accept: 'application/fhir+json' } });
    return res.ok ? ((await res.json()) as CarePlan) : undefined;
  }

  it("applies each tenant's screening thresholds, follow-up offsets and webhooks, and syncs each course to its own EHR only", async () => {
    const mrnNorth = `TN-${Date.now()}-n`;
    const mrnSouth = `TN-${Date.now()}-s`;
    const bp = { systolic: 145, diastolic: 85, heartRate: 74, spo2: 97, respiratoryRate: 14, weightKg: 61.5 };
    // 145 systolic: under north's threshold (150), over the environment's (140) that south keeps.
    const northScreening = await as('north').createScreening({ body: screeningRequest({ vitals: bp }) });
    const southScreening = await as('south').createScreening({ body: screeningRequest({ vitals: bp }) });
    expect(northScreening.outcome).toBe('eligible');
    expect(southScreening.outcome).not.toBe('eligible');

    const n = await enrolAs('north', mrnNorth);
    const s = await enrolAs('south', mrnSouth);
    const offsetsOf = (run: typeof n) => run.session.followUps.map((f) => (Date.parse(f.dueBy) - run.end.getTime()) / 3600_000);
    expect(offsetsOf(n)).toEqual([1, 2]);
    expect(offsetsOf(s)).toEqual([5]);

    await stack.drained();
    expect(await patientsWith(north, mrnNorth)).toHaveLength(1);
    expect(await patientsWith(south, mrnSouth)).toHaveLength(1);
    expect(await patientsWith(north, mrnSouth)).toHaveLength(0);
    expect(await patientsWith(south, mrnNorth)).toHaveLength(0);
    // Each CarePlan is in its tenant's EHR, about that EHR's Patient.
    expect((await ehrCarePlan('north', n.courseId, north))?.subject?.reference).toBe(
      `Patient/${(await patientsWith(north, mrnNorth))[0]?.id}`,
    );
    expect((await ehrCarePlan('south', s.courseId, south))?.subject?.reference).toBe(
      `Patient/${(await patientsWith(south, mrnSouth))[0]?.id}`,
    );
    // The environment's EHR is no tenant's: nothing reached it.
    expect(await ehrAll(stack.sandbox.url, 'Patient')).toHaveLength(0);

    // Webhooks: each tenant's CarePlan to its own subscriber, signed with its own secret.
    const carePlansTo = (hooks: Receiver) =>
      hooks.deliveries.filter((d) => d.body.resource.resourceType === 'CarePlan').map((d) => d.body.resource.id);
    await until(
      async () => carePlansTo(hooksNorth).includes(n.carePlanId) && carePlansTo(hooksSouth).includes(s.carePlanId),
      20_000,
      'both webhooks',
    );
    expect(carePlansTo(hooksNorth)).not.toContain(s.carePlanId);
    expect(carePlansTo(hooksSouth)).not.toContain(n.carePlanId);
    expect(hooksNorth.deliveries.every((d) => d.signatureValid)).toBe(true);
    expect(hooksSouth.deliveries.every((d) => d.signatureValid)).toBe(true);
  });

  it('refuses a token of a tenant the file does not name, and one naming none (the default tenant is not served)', async () => {
    const west = await issuer.mint({ tenant: 'west', scope: ALL_SCOPES });
    const none = await issuer.mint({ scope: ALL_SCOPES });
    for (const token of [west, none]) {
      const err = await refusal(withToken(token).getSyncStatus());
      expect(err.status).toBe(403);
      expect(err.outcome?.resourceType).toBe('OperationOutcome');
    }
  });

  it("routes an HL7 message by its sending facility to that tenant's patient; an unlisted facility is AR and kept for the deployment's operator only", async () => {
    const mrn = `TN-${Date.now()}-hl7`;
    const s = await enrolAs('south', mrn);
    const adt = (facility: string, id: string) =>
      [
        `MSH|^~\\&|EPIC|${facility}|KAP|PALLIATIVE|20260301120000+0100||ADT^A03^ADT_A03|${id}|P|2.5.1|||AL|NE`,
        'EVN|A03|20260301120000+0100',
        `PID|1||${mrn}^^^HOSP^MR||Synthetic^South||19500402|F`,
        `PV1|1|I${'|'.repeat(34)}20`,
      ].join('\r');
    const raw = await rawMllp(mllp.port);
    try {
      const stray = `TNX${Date.now().toString(36)}`;
      const routed = `TNS${Date.now().toString(36)}`;
      // North knows no such patient, so a message wrongly routed there would change nothing visible: the unlisted one must be refused
      // outright.
      await raw.write(frame(adt('ELSEWHERE', stray)));
      await raw.write(frame(adt('SOUTHHOSP^1.2.3^ISO', routed)));
      const acks = await raw.acks(2);
      expect(msa(acks[0] as string)).toMatchObject({ code: 'AR', controlId: stray });
      expect(msa(acks[0] as string).text).toMatch(/sending facility ELSEWHERE is not assigned to a tenant/);
      expect(msa(acks[1] as string)).toMatchObject({ code: 'AA', controlId: routed });
      // No tenant claims it: kept for the deployment's operator, in no tenant's inbound messages.
      expect(await stack.db.query('SELECT id FROM inbound_messages WHERE control_id = $1', [stray])).toEqual([]);
      for (const tenant of ['north', 'south'] as const) {
        const listed = (await as(tenant).listInboundMessages({ query: { status: 'rejected' } })).inboundMessages;
        expect(listed.map((m) => m.controlId)).not.toContain(stray);
        // A tenant's admin scope does not reach the deployment's messages.
        expect((await refusal(as(tenant).listUnroutedMessages())).status).toBe(403);
      }
      const operator = await issuer.mint({ tenant: 'north', scope: 'kap/operator', clientId: 'deployment-operator' });
      const unrouted = (await withToken(operator).listUnroutedMessages()).unroutedMessages;
      expect(unrouted).toContainEqual(
        expect.objectContaining({ controlId: stray, ackCode: 'AR', problem: expect.stringMatching(/ELSEWHERE/) }),
      );
      expect(JSON.stringify(unrouted)).not.toContain(routed);
    } finally {
      await raw.close();
    }
    await until(
      async () => (await as('south').getCourse({ path: { id: s.courseId } })).stoppedReason === 'deceased',
      30_000,
      'south course stopped',
    );
    await stack.drained();
    // The stop reached south's EHR; north's never heard of this patient.
    expect((await ehrCarePlan('south', s.courseId, south))?.status).toBe('revoked');
    expect(await patientsWith(north, mrn)).toHaveLength(0);
  });

  it("reads an id-only EHR notification from the caller's tenant's EHR, and stops that tenant's course", async () => {
    const mrn = `TN-${Date.now()}-notif`;
    const s = await enrolAs('south', mrn);
    await stack.drained();
    const [ehrPatient] = await patientsWith(south, mrn);
    expect(ehrPatient?.id).toBeDefined();
    // South's hospital records the death in south's EHR, which notifies with the id only: only south's EHR can answer the read.
    const put = await fetch(`${south.url}/Patient/${ehrPatient?.id}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify({ ...ehrPatient, deceasedBoolean: true }),
    });
    expect(put.status).toBe(200);
    await as('south').receiveEhrNotification({
      body: { ...notification('event-notification', { reference: `Patient/${ehrPatient?.id}` }) },
    });
    await until(
      async () => (await as('south').getCourse({ path: { id: s.courseId } })).stoppedReason === 'deceased',
      30_000,
      'south course stopped',
    );
  });

  it('the same hospital identifier in two tenants is two patients, each in its own EHR', async () => {
    const mrn = `TN-${Date.now()}-same`;
    const n = await enrolAs('north', mrn);
    const s = await enrolAs('south', mrn);
    // Each tenant sees its own patient, as it registered them.
    const givenIn = async (tenant: 'north' | 'south', patientId: string) =>
      ((await as(tenant).readFhirResource({ path: { type: 'Patient', id: patientId } })) as unknown as Patient).name?.[0]?.given;
    expect(await givenIn('north', n.patientId)).toEqual(['north']);
    expect(await givenIn('south', s.patientId)).toEqual(['south']);
    await stack.drained();
    const [inNorth] = await patientsWith(north, mrn);
    const [inSouth] = await patientsWith(south, mrn);
    expect(inNorth?.name?.[0]?.given).toEqual(['north']);
    expect(inSouth?.name?.[0]?.given).toEqual(['south']);
    expect(await patientsWith(north, mrn)).toHaveLength(1);
    expect(await patientsWith(south, mrn)).toHaveLength(1);
  });
});
