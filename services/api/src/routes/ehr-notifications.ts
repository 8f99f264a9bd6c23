import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { OutcomeError, badRequest, invalidInput, operationOutcome } from '@kap/fhir';
import { classicNotificationKey, readEhrNotificationBody, readNotification, type EhrNotification } from '@kap/inbound';
import { receiveInboundMessage } from '@kap/queue';
import { listInboundMessages, type InboundMessageRow, type InboundStatus } from '@kap/store';
import { Router, type Request } from 'express';
import client from 'prom-client';
import type { AppDeps } from '../deps';
import { command, guardDatabase, type CommandContext } from '../http/command';
import { intQuery } from '../http/query';
import { sendResource } from '../http/respond';
import { requestDb } from '../http/tenant-db';
import { requestTenant } from '../http/tenant-settings';

const notifications =
  (client.register.getSingleMetric('kap_ehr_notifications_total') as client.Counter | undefined) ??
  new client.Counter({
    name: 'kap_ehr_notifications_total',
    help: 'FHIR Subscription notifications received, by notification type and whether they were new',
    labelNames: ['type', 'result'],
  });

/**
 * `POST /v1/ehr-notifications`: the rest-hook endpoint of the EHR's Subscriptions, both
 * styles. R4 backport: a handshake or heartbeat is acknowledged and changes nothing; an
 * event notification is stored. Classic R4: the changed Patient or Encounter itself is
 * stored (one message per resource version), and an empty body (a Subscription without
 * `payload`) is stored as a ping for which the worker asks the EHR what changed. Stored
 * messages are answered 200 and applied by the worker, once; the same event again is
 * stored once. With `EHR_SUBSCRIPTION_SECRET` set, a body must carry its `X-Signature`.
 */
export function ehrNotificationRoutes(deps: AppDeps): Router {
  const router = Router();
  router.post(
    '/v1/ehr-notifications',
    (req, res, next) => {
      verifySignature(req, requestTenant(deps, res).config.EHR_SUBSCRIPTION_SECRET);
      next();
    },
    command(deps, parseEhrNotification, async (notice, ctx) => {
      if (notice.style === 'classic' || notice.style === 'classic-ping') return storeClassic(ctx, notice);
      const bundle = notice.bundle;
      const notification = readNotification(bundle);
      if (notification.type !== 'event-notification') {
        notifications.inc({ type: notification.type, result: 'acknowledged' });
        return { status: 200, body: { status: 'acknowledged', type: notification.type }, written: null };
      }
      const numbers = notification.events.map((e) => e.eventNumber).filter(Boolean);
      const controlId =
        numbers.length > 0
          ? numbers.join(',')
          : (notification.eventsSinceStart ?? createHash('sha256').update(JSON.stringify(bundle)).digest('hex'));
      const stored = await receiveInboundMessage(ctx.tx, {
        channel: 'fhir-notification',
        sender: notification.subscription,
        controlId,
        messageType: [...new Set(notification.events.map((e) => e.focus.type))].join(',') || 'none',
        content: JSON.stringify(bundle),
        status: 'accepted',
      });
      notifications.inc({ type: notification.type, result: stored.created ? 'stored' : 'duplicate' });
      return {
        status: 200,
        body: {
          status: stored.created ? 'accepted' : 'duplicate',
          type: notification.type,
          notificationId: String(stored.message.id),
          events: notification.events.length,
        },
        // The EHR's own message, stored as sent: what it changes is applied (and audited) by the worker.
        written: null,
      };
    }),
  );
  // Operators: what the hospital sent and what became of it; rejected messages wait here.
  // The message itself (patient data) only on request, and only on this admin route.
  router.get('/v1/admin/inbound-messages', async (req, res) => {
    const limit = intQuery(req, 'limit', { min: 1, max: 1000, fallback: 100 });
    const status = STATUSES.find((s) => s === req.query.status);
    if (req.query.status !== undefined && !status) throw badRequest(`status must be one of ${STATUSES.join(', ')}`, 'status');
    if (req.query.content !== undefined && !['true', 'false'].includes(String(req.query.content)))
      throw badRequest('content must be true or false', 'content');
    const rows = await guardDatabase(() => listInboundMessages(requestDb(deps, res), { limit, ...(status ? { status } : {}) }));
    const withContent = req.query.content === 'true';
    sendResource(req, res, 200, { inboundMessages: rows.map((r) => inboundView(r, withContent)) });
  });
  return router;
}

/** The sender of a classic notification: it names no Subscription in its body, Medplum does in a header. */
const CLASSIC_SENDER = 'classic-rest-hook';

async function storeClassic(ctx: CommandContext, notice: Extract<EhrNotification, { style: 'classic' | 'classic-ping' }>) {
  const resource = notice.style === 'classic' ? notice.resource : undefined;
  const content = resource ? JSON.stringify(resource) : '{}';
  // A ping names nothing, so each one is its own message; a resource version is one message however often it comes.
  const controlId = resource
    ? (classicNotificationKey(resource) ?? createHash('sha256').update(content).digest('hex'))
    : `ping-${randomUUID()}`;
  const stored = await receiveInboundMessage(ctx.tx, {
    channel: 'fhir-notification',
    sender: CLASSIC_SENDER,
    controlId,
    messageType: resource ? resource.resourceType : 'ping',
    content,
    status: 'accepted',
  });
  const type = resource ? 'rest-hook' : 'rest-hook-ping';
  notifications.inc({ type, result: stored.created ? 'stored' : 'duplicate' });
  return {
    status: 200,
    body: { status: stored.created ? 'accepted' : 'duplicate', type, notificationId: String(stored.message.id), events: resource ? 1 : 0 },
    written: null,
  };
}

function parseEhrNotification(body: unknown): EhrNotification {
  const read = readEhrNotificationBody(body);
  if (!read.ok) throw invalidInput(read.issues.map((i) => ({ ...i, keys: 'keys' in i ? (i.keys as string[]) : undefined })));
  return read.value;
}

/**
 * Medplum-style signed rest-hooks: `X-Signature` is the hex HMAC-SHA256 of the body as
 * sent, keyed with the Subscription's secret. Checked only when a secret is configured.
 */
function verifySignature(req: Request, secret: string | undefined): void {
  if (!secret) return;
  const sent = req.get('X-Signature') ?? '';
  const raw = (req as Request & { rawBody?: Buffer }).rawBody ?? Buffer.alloc(0);
  const expected = createHmac('sha256', secret).update(raw).digest();
  const given = /^[0-9a-f]{64}$/i.test(sent) ? Buffer.from(sent, 'hex') : Buffer.alloc(0);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    notifications.inc({ type: 'unsigned', result: 'refused' });
    throw new OutcomeError(
      401,
      operationOutcome([
        {
          code: 'security',
          diagnostics: sent
            ? 'X-Signature does not match the body (EHR_SUBSCRIPTION_SECRET)'
            : 'X-Signature is required: EHR_SUBSCRIPTION_SECRET is set',
          expression: 'header.X-Signature',
        },
      ]),
    );
  }
}

const STATUSES: readonly InboundStatus[] = ['accepted', 'ignored', 'rejected', 'processed'];

function inboundView(row: InboundMessageRow, withContent: boolean) {
  return {
    id: String(row.id),
    channel: row.channel,
    sender: row.sender,
    controlId: row.controlId,
    messageType: row.messageType,
    status: row.status,
    ackCode: row.ackCode,
    problem: row.problem,
    outcome: row.outcome,
    receivedAt: row.receivedAt,
    processedAt: row.processedAt,
    ...(withContent ? { content: row.content } : {}),
  };
}
