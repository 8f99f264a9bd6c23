import { AlertList, type AlertView } from '@kap/contracts';
import pino from 'pino';
import { serveClient, type ServedClient } from '@kap/testkit/client';
import { until } from '@kap/testkit/poll';
import { escalateSafetyAlert } from '@kap/worker';
import { courseStartYesterday, screeningRequest } from '@kap/testkit/requests';
import { startStack, startWebhookReceiver, type Delivery, type Stack } from '@kap/testkit/stack';

jest.setTimeout(120_000);

/**
 * A safety alert's loop on the whole service: the API, the outbox, the relay, BullMQ's
 * delayed jobs and the worker, with real PostgreSQL and Redis. The acknowledgement window
 * is short (SAFETY_ALERT_ACK_WITHIN=PT2S), as an operator could set it; no test sleeps for
 * it, each waits for what the worker records.
 */
const WINDOW_MS = 2000;
const ITEM9 = [2, 2, 1, 1, 1, 2, 1, 1, 2];

let stack: Stack;
let team: Awaited<ReturnType<typeof startWebhookReceiver>>;
let oncall: Awaited<ReturnType<typeof startWebhookReceiver>>;
let client: ServedClient;
/** When set, the next delivery to on-call reaches it and then the worker "crashes" before recording it. */
let crashAfterNextOncallDelivery = false;

beforeAll(async () => {
  team = await startWebhookReceiver();
  oncall = await startWebhookReceiver();
  const webhookFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (crashAfterNextOncallDelivery && String(input) === oncall.url) {
      crashAfterNextOncallDelivery = false;
      await response.body?.cancel();
      throw new Error('worker crashed after the delivery was sent, before it was recorded');
    }
    return response;
  };
  stack = await startStack(
    {
      WEBHOOK_URLS: team.url,
      SAFETY_ESCALATION_WEBHOOK_URLS: oncall.url,
      SAFETY_ALERT_ACK_WITHIN: 'PT2S',
      CLINIC_TIME_ZONE: 'America/Los_Angeles',
    },
    { webhookFetch },
  );
  client = await serveClient(stack.app);
}, 180_000);
afterAll(async () => {
  await client?.close();
  await stack?.close();
  await team?.close();
  await oncall?.close();
});

const alerts = async (): Promise<AlertView[]> => {
  const of = async (status: 'open' | 'acknowledged') =>
    AlertList.parse(await client.kap.listAlerts({ query: { status, _count: '100' } })).alerts;
  return [...(await of('open')), ...(await of('acknowledged'))];
};
const alertOf = async (pred: (a: AlertView) => boolean): Promise<AlertView> => {
  const found = (await alerts()).find(pred);
  if (!found) throw new Error('alert not listed');
  return found;
};
const openTimers = async (alertId: string): Promise<number> =>
  (
    await stack.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM outbox WHERE topic = 'safety-alert-escalation' AND payload->>'alertId' = $1 AND completed_at IS NULL",
      [alertId],
    )
  )[0]?.n ?? 0;
/** Deliveries of Communications about this alert's Flag. */
const about = (list: Delivery[], a: AlertView): Delivery[] =>
  list.filter((d) => (d.body.resource as { about?: { reference: string }[] }).about?.some((r) => r.reference === a.flag));

async function screeningAlert(): Promise<AlertView> {
  const s = await client.kap.createScreening({ body: screeningRequest({ measures: { phq9: ITEM9 } }) });
  return alertOf((a) => a.screeningId === s.screeningId);
}

it('an alert acknowledged in time does not escalate when its deadline comes', async () => {
  // No worker yet: whatever the machine's speed, the acknowledgement lands before any deadline is acted on.
  const alert = await screeningAlert();
  await client.kap.acknowledgeAlert({ path: { id: alert.id }, body: { by: 'Dr. A. Synthetic' } });
  stack.startWorker();
  // The deadline's job runs (at or after its time) and finds the alert acknowledged.
  await until(async () => (await openTimers(alert.id)) === 0, 60_000, 'the deadline to be acted on');
  const [done] = await stack.db.query<{ completed_at: Date; due: string }>(
    "SELECT completed_at, payload->>'dueAt' AS due FROM outbox WHERE topic = 'safety-alert-escalation' AND payload->>'alertId' = $1",
    [alert.id],
  );
  expect(done && done.completed_at.getTime() >= Date.parse(done.due)).toBe(true);
  const now = await alertOf((a) => a.id === alert.id);
  expect(now).toMatchObject({ status: 'acknowledged', escalations: 0 });
  expect(now.history.map((e) => e.event)).toEqual(['raised', 'acknowledged']);
  await stack.drained();
  expect(about(oncall.deliveries, alert)).toEqual([]);
});

it('an alert left alone escalates at stat priority at each interval, even after its course stopped, until acknowledged', async () => {
  const s = await client.kap.createScreening({ body: screeningRequest() });
  const c = await client.kap.createCourse({ body: { screeningId: s.screeningId, startDate: courseStartYesterday() } });
  const courseId = c.courseId;
  const measuredAt = new Date(Date.now() - 60_000).toISOString();
  await client.kap.recordMeasure({ path: { id: courseId }, body: { measuredAt, phq9: ITEM9 } });
  await client.kap.stopCourse({ path: { id: courseId }, body: { reason: 'withdrawn' } });
  const alert = await alertOf((a) => a.courseId === courseId);

  await until(async () => (await alertOf((a) => a.id === alert.id)).escalations >= 2, 60_000, 'two escalations');
  const escalated = (await alertOf((a) => a.id === alert.id)).history.filter((e) => e.event === 'escalated');
  expect(escalated.map((e) => e.escalation).slice(0, 2)).toEqual([1, 2]);
  // On schedule: the n-th escalation never before n windows after the alert was raised.
  for (const e of escalated)
    expect(Date.parse(e.at)).toBeGreaterThanOrEqual(Date.parse(alert.raisedAt) + (e.escalation as number) * WINDOW_MS);

  // Each escalation reached on-call as a stat Communication about the Flag, signed; the team's webhook had the alert itself.
  await until(
    () => new Set(about(oncall.deliveries, alert).map((d) => d.deliveryId)).size >= 2,
    60_000,
    'two escalations delivered to on-call',
  );
  const toOncall = about(oncall.deliveries, alert);
  expect(toOncall.every((d) => d.signatureValid && d.event === 'care-team.notification')).toBe(true);
  expect(toOncall.every((d) => (d.body.resource as { priority?: string }).priority === 'stat')).toBe(true);
  expect(about(team.deliveries, alert).some((d) => (d.body.resource as { priority?: string }).priority === 'urgent')).toBe(true);
  expect(about(team.deliveries, alert).some((d) => (d.body.resource as { priority?: string }).priority === 'stat')).toBe(false);

  const ack = await client.kap.acknowledgeAlert({ path: { id: alert.id }, body: { by: 'Dr. On Call', note: 'Visited' } });
  const atAck = ack.escalations;
  // The pending deadline comes and goes: nothing more.
  await until(async () => (await openTimers(alert.id)) === 0, 60_000, 'the last deadline to be acted on');
  const final = await alertOf((a) => a.id === alert.id);
  expect(final).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'Dr. On Call', escalations: atAck, nextEscalationAt: null });
  const escalationComms = await stack.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM resources WHERE resource_type = 'Communication' AND content->>'priority' = 'stat' AND content->'about' @> $1::jsonb",
    [JSON.stringify([{ reference: alert.flag }])],
  );
  expect(escalationComms[0]?.n).toBe(atAck);
});

it('a crash between sending an escalation and recording it sends it once: one escalation, one delivery id', async () => {
  await stack.drained();
  crashAfterNextOncallDelivery = true;
  const alert = await screeningAlert();
  await until(async () => (await alertOf((a) => a.id === alert.id)).escalations >= 1, 60_000, 'the first escalation');

  // The deadline's job run again, as after a crash that followed its commit: it finds the escalation recorded and sends nothing.
  const [row] = await stack.db.query<{ key: string; payload: Record<string, unknown>; tenant_id: string }>(
    "SELECT key, payload, tenant_id FROM outbox WHERE topic = 'safety-alert-escalation' AND payload->>'alertId' = $1 AND (payload->>'escalation')::int = 1",
    [alert.id],
  );
  const deps = {
    config: stack.config,
    db: stack.db,
    ehr: stack.ehr,
    queues: stack.queues,
    queuePrefix: stack.prefix,
    logger: pino({ level: 'silent' }),
    workerId: 'rerun',
  };
  expect(await escalateSafetyAlert(deps, { ...row?.payload, outboxKey: row?.key, tenantId: row?.tenant_id })).toMatch(/^already escalated/);

  // The delivery that "crashed" after reaching on-call is sent again under the same id, for on-call to drop.
  await until(() => about(oncall.deliveries, alert).length >= 2, 60_000, 'the delivery retried after the crash');
  await client.kap.acknowledgeAlert({ path: { id: alert.id }, body: { by: 'Dr. A. Synthetic' } });
  await until(async () => (await openTimers(alert.id)) === 0, 60_000, 'the last deadline to be acted on');
  await stack.drained();
  expect(crashAfterNextOncallDelivery).toBe(false);
  const firstEscalation = about(oncall.deliveries, alert)[0]?.body.resource.id;
  const ofFirst = about(oncall.deliveries, alert).filter((d) => d.body.resource.id === firstEscalation);
  expect(ofFirst.length).toBe(2);
  expect(new Set(ofFirst.map((d) => d.deliveryId)).size).toBe(1);
  // Each escalation once: one history entry and one delivery id each.
  const final = await alertOf((a) => a.id === alert.id);
  const numbers = final.history.filter((e) => e.event === 'escalated').map((e) => e.escalation);
  expect(numbers).toEqual([...new Set(numbers)]);
  expect(new Set(about(oncall.deliveries, alert).map((d) => d.deliveryId)).size).toBe(final.escalations);
});
