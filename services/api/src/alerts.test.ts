import type { Communication, Flag, Provenance } from '@medplum/fhirtypes';
import { AlertList, AlertView } from '@kap/contracts';
import { forTenant, readResource } from '@kap/store';
import request from 'supertest';
import { startApiHarness, type ApiHarness } from '@kap/testkit/api-harness';
import { courseStartYesterday, screeningRequest, sessionOneRequest } from '@kap/testkit/requests';
import { startTestIssuer, type TestIssuer } from '@kap/testkit/tokens';

/**
 * Safety alerts through the API, for two tenants: listing (oldest first, this tenant's
 * only), acknowledging and resolving, what each step writes, and what is refused.
 */
const WEBHOOK = 'https://palliative-team.example.org/hooks/kap';
const ALL = 'kap/v1.read kap/v1.write';
const ITEM9 = [2, 2, 1, 1, 1, 2, 1, 1, 2];

let issuer: TestIssuer;
let h: ApiHarness;
let north: string;
let south: string;
let northReader: string;
let now = new Date('2026-06-01T10:00:00Z');

beforeAll(async () => {
  issuer = await startTestIssuer();
  h = await startApiHarness({
    env: {
      ...issuer.env(),
      WEBHOOK_URLS: WEBHOOK,
      WEBHOOK_SECRET: 'test-webhook-secret-0123456789',
      CLINIC_TIME_ZONE: 'Europe/Berlin',
      SAFETY_ALERT_ACK_WITHIN: 'PT20M',
    },
    tenantIds: ['north', 'south'],
    now: () => now,
  });
  north = await issuer.mint({ scope: ALL, tenant: 'north', clientId: 'north-app', expiresIn: 3600 });
  northReader = await issuer.mint({ scope: 'kap/v1.read', tenant: 'north', clientId: 'north-reader', expiresIn: 3600 });
  south = await issuer.mint({ scope: ALL, tenant: 'south', clientId: 'south-app', expiresIn: 3600 });
}, 180_000);
afterAll(async () => {
  await h.close();
  await issuer.close();
});

const get = (token: string, path: string) => request(h.app).get(path).set('Authorization', `Bearer ${token}`);
const post = (token: string, path: string, body: unknown, key?: string) => {
  const r = request(h.app).post(path).set('Authorization', `Bearer ${token}`);
  return (key ? r.set('Idempotency-Key', key) : r).send(body as object);
};

async function selfHarmScreening(token: string, at: string): Promise<string> {
  now = new Date(at);
  const s = await post(
    token,
    '/v1/screenings',
    screeningRequest({ performedAt: '2026-05-30T09:00:00Z', measures: { phq9: ITEM9 } }),
  ).expect(201);
  return s.body.screeningId;
}

const alertsOf = async (token: string, query = '') => AlertList.parse((await get(token, `/v1/alerts${query}`).expect(200)).body).alerts;

describe('GET /v1/alerts', () => {
  it("lists the tenant's unresolved alerts oldest first, with the time in the clinic's zone", async () => {
    const first = await selfHarmScreening(north, '2026-06-01T10:00:00Z');
    const second = await selfHarmScreening(north, '2026-06-01T09:00:00Z');
    await selfHarmScreening(south, '2026-06-01T08:00:00Z');
    const alerts = (await alertsOf(north)).filter((a) => [first, second].includes(a.screeningId as string));
    expect(alerts.map((a) => a.screeningId)).toEqual([second, first]);
    expect(alerts[0]).toMatchObject({
      kind: 'phq9-self-harm',
      status: 'open',
      escalations: 0,
      raisedAtClinic: '2026-06-01 11:00 (Europe/Berlin)',
      nextEscalationAt: '2026-06-01T09:20:00.000Z',
      history: [expect.objectContaining({ event: 'raised' })],
    });
    // The first deadline was asked for with the screening, in its transaction.
    const timers = await h.db.query<{ payload: { alertId: string; dueAt: string; escalation: number } }>(
      "SELECT payload FROM outbox WHERE topic = 'safety-alert-escalation' AND payload->>'alertId' = $1",
      [alerts[0]?.id],
    );
    expect(timers.map((t) => t.payload)).toEqual([expect.objectContaining({ escalation: 1, dueAt: '2026-06-01T09:20:00.000Z' })]);
    // South's alert is south's: north never sees it.
    const southAlerts = await alertsOf(south);
    expect(southAlerts.length).toBeGreaterThan(0);
    expect(southAlerts.every((a) => !alerts.some((n) => n.id === a.id))).toBe(true);
  });

  it('counts an in-session blood pressure above the threshold as an alert too', async () => {
    now = new Date();
    const s = await post(north, '/v1/screenings', screeningRequest()).expect(201);
    const c = await post(north, '/v1/courses', { screeningId: s.body.screeningId, startDate: courseStartYesterday() }).expect(201);
    const session = sessionOneRequest(new Date(Date.now() - 3 * 3600_000));
    (session.vitals as { systolic: number }[])[0]!.systolic = 200;
    await post(north, `/v1/courses/${c.body.courseId}/dosing-sessions`, session).expect(201);
    const alert = (await alertsOf(north)).find((a) => a.courseId === c.body.courseId);
    expect(alert).toMatchObject({ kind: 'session-blood-pressure', status: 'open', patient: `Patient/${alert?.patientId}` });
    // The reading's time in the text is the clinic's, named.
    expect(alert?.text).toMatch(/200\/84 mmHg at \d{4}-\d{2}-\d{2} \d{2}:\d{2} \(Europe\/Berlin\)/);
  });
});

describe('acknowledging and resolving', () => {
  it('acknowledges: the Flag, a Communication and a Provenance say who and when; the webhooks are told; replays do nothing again', async () => {
    const screeningId = await selfHarmScreening(north, '2026-06-01T12:00:00Z');
    const alert = (await alertsOf(north)).find((a) => a.screeningId === screeningId) as AlertView;
    now = new Date('2026-06-01T12:10:00Z');
    const body = { by: 'Dr. A. Synthetic', note: 'Called the patient; safety plan in place' };
    const ack = await post(north, `/v1/alerts/${alert.id}/acknowledge`, body, 'ack-1').expect(200);
    expect(AlertView.parse(ack.body)).toMatchObject({
      status: 'acknowledged',
      acknowledgedBy: 'Dr. A. Synthetic',
      acknowledgedAt: '2026-06-01T12:10:00.000Z',
      nextEscalationAt: null,
    });
    const replay = await post(north, `/v1/alerts/${alert.id}/acknowledge`, body, 'ack-1').expect(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');

    const flag = (await readResource<Flag>(forTenant(h.db, 'north'), 'Flag', alert.flag.split('/')[1] as string)) as Flag;
    expect(flag.status).toBe('active');
    expect(flag.extension).toContainEqual({
      url: 'https://kap-adapter.org/fhir/StructureDefinition/alert-acknowledgement',
      extension: [
        { url: 'by', valueString: 'Dr. A. Synthetic' },
        { url: 'at', valueDateTime: '2026-06-01T12:10:00.000Z' },
        { url: 'note', valueString: 'Called the patient; safety plan in place' },
      ],
    });
    const step = ack.body.history.at(-1);
    expect(step).toMatchObject({ event: 'acknowledged', by: 'Dr. A. Synthetic' });
    const communication = (await readResource<Communication>(
      forTenant(h.db, 'north'),
      'Communication',
      step.communication.split('/')[1],
    )) as Communication;
    expect(communication).toMatchObject({
      priority: 'routine',
      about: [{ reference: alert.flag }],
      category: [{ coding: [expect.objectContaining({ code: 'safety-alert-acknowledged' })] }],
    });
    expect(communication.payload?.[0]?.contentString).toMatch(
      /^Acknowledged by Dr\. A\. Synthetic at 2026-06-01 14:10 \(Europe\/Berlin\): Called the patient/,
    );
    const provenances = await h.db.query<{ content: Provenance }>(
      "SELECT content FROM resources WHERE resource_type = 'Provenance' AND content->'target' @> $1::jsonb",
      [JSON.stringify([{ reference: step.communication }])],
    );
    expect(provenances).toHaveLength(1);
    expect(provenances[0]?.content.agent).toContainEqual(expect.objectContaining({ who: { display: 'Dr. A. Synthetic' } }));
    const notices = await h.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM outbox WHERE topic = 'notify' AND payload->>'resource' = $1",
      [step.communication],
    );
    expect(notices[0]?.n).toBe(1);
    // Flag, Communication and Provenance wait for the EHR sync like every other change.
    const pending = await h.db.query<{ resource_type: string }>(
      "SELECT resource_type FROM sync_state WHERE status = 'pending' AND id = ANY($1::text[]) ORDER BY resource_type",
      [[flag.id, communication.id, provenances[0]?.content.id]],
    );
    expect(pending.map((p) => p.resource_type)).toEqual(['Communication', 'Flag', 'Provenance']);

    // The same clinician again changes nothing; someone else is told who did.
    const same = await post(north, `/v1/alerts/${alert.id}/acknowledge`, { by: 'Dr. A. Synthetic' }).expect(200);
    expect(same.body.history).toHaveLength(2);
    const again = await post(north, `/v1/alerts/${alert.id}/acknowledge`, { by: 'Nurse B' }).expect(409);
    expect(again.body.issue[0].diagnostics).toMatch(/already acknowledged by Dr\. A\. Synthetic/);
    // Listed as acknowledged now, no longer as open.
    expect((await alertsOf(north)).some((a) => a.id === alert.id)).toBe(false);
    expect((await alertsOf(north, '?status=acknowledged')).some((a) => a.id === alert.id)).toBe(true);

    now = new Date('2026-06-01T13:00:00Z');
    const resolved = await post(north, `/v1/alerts/${alert.id}/resolve`, {
      by: 'Dr. A. Synthetic',
      note: 'Assessed: no current intent',
    }).expect(200);
    expect(resolved.body).toMatchObject({ status: 'resolved', resolvedBy: 'Dr. A. Synthetic', acknowledgedBy: 'Dr. A. Synthetic' });
    const ended = (await readResource<Flag>(forTenant(h.db, 'north'), 'Flag', flag.id as string)) as Flag;
    expect(ended).toMatchObject({ status: 'inactive', period: { end: '2026-06-01T13:00:00.000Z' } });
    expect((await alertsOf(north, '?status=acknowledged')).some((a) => a.id === alert.id)).toBe(false);
    expect((await alertsOf(north, '?status=resolved')).find((a) => a.id === alert.id)?.history.map((e) => e.event)).toEqual([
      'raised',
      'acknowledged',
      'resolved',
    ]);

    // A resolved alert takes nothing more.
    await post(north, `/v1/alerts/${alert.id}/acknowledge`, { by: 'Nurse B' }).expect(409);
    await post(north, `/v1/alerts/${alert.id}/resolve`, { by: 'Nurse B', note: 'again' }).expect(409);
  });

  it('refuses bad input naming the field, unknown ids, another tenant, and a read-only caller', async () => {
    const screeningId = await selfHarmScreening(north, '2026-06-01T14:00:00Z');
    const alert = (await alertsOf(north)).find((a) => a.screeningId === screeningId) as AlertView;
    const missing = await post(north, `/v1/alerts/${alert.id}/resolve`, { by: 'Dr. A' }).expect(400);
    expect(missing.body.issue[0].expression).toEqual(['note']);
    const empty = await post(north, `/v1/alerts/${alert.id}/acknowledge`, { by: '  ' }).expect(400);
    expect(empty.body.issue[0].expression).toEqual(['by']);
    await post(north, '/v1/alerts/00000000-0000-4000-8000-000000000000/acknowledge', { by: 'Dr. A' }).expect(404);
    await post(north, '/v1/alerts/not-a-uuid/acknowledge', { by: 'Dr. A' }).expect(404);
    // South cannot see or touch north's alert: it does not exist there.
    await post(south, `/v1/alerts/${alert.id}/acknowledge`, { by: 'Dr. South' }).expect(404);
    await post(south, `/v1/alerts/${alert.id}/resolve`, { by: 'Dr. South', note: 'x' }).expect(404);
    await post(northReader, `/v1/alerts/${alert.id}/acknowledge`, { by: 'Dr. A' }).expect(403);
    await get(northReader, '/v1/alerts').expect(200);
    expect((await get(north, '/v1/alerts?status=closed').expect(400)).body.issue[0].expression).toEqual(['status']);
    expect((await get(north, '/v1/alerts?limit=5').expect(400)).body.issue[0].expression).toEqual(['limit']);
    expect((await get(north, '/v1/alerts?_count=0').expect(400)).body.issue[0].expression).toEqual(['_count']);
    // One patient's alerts, a page at a time.
    const mine = await alertsOf(north, `?patient=Patient/${alert.patientId}`);
    expect(mine.map((a) => a.id)).toEqual([alert.id]);
    expect(await alertsOf(north, `?patient=${alert.patientId}&_count=1&_page=2`)).toEqual([]);
    const all = await alertsOf(north);
    const paged = [...(await alertsOf(north, '?_count=1&_page=1')), ...(await alertsOf(north, '?_count=1&_page=2'))];
    expect(paged.map((a) => a.id)).toEqual(all.slice(0, 2).map((a) => a.id));
    const still = (await alertsOf(north)).find((a) => a.id === alert.id);
    expect(still).toMatchObject({ status: 'open', history: [expect.objectContaining({ event: 'raised' })] });
  });
});
