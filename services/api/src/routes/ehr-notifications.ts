import { createHash } from 'node:crypto';
import { badRequest } from '@kap/fhir';
import { NotificationBundle, readNotification } from '@kap/inbound';
import { receiveInboundMessage } from '@kap/queue';
import { listInboundMessages, type InboundMessageRow, type InboundStatus } from '@kap/store';
import type { Bundle } from '@medplum/fhirtypes';
import { Router } from 'express';
import client from 'prom-client';
import type { AppDeps } from '../deps';
import { command, guardDatabase, zodParser } from '../http/command';
import { intQuery } from '../http/query';
import { sendResource } from '../http/respond';
import { requestDb } from '../http/tenant-db';

const notifications =
  (client.register.getSingleMetric('kap_ehr_notifications_total') as client.Counter | undefined) ??
  new client.Counter({
    name: 'kap_ehr_notifications_total',
    help: 'FHIR Subscription notifications received, by notification type and whether they were new',
    labelNames: ['type', 'result'],
  });

/**
 * `POST /v1/ehr-notifications`: the rest-hook endpoint of the EHR's Subscriptions (R4
 * backport). A handshake or heartbeat is acknowledged and changes nothing; an event
 * notification is stored with its outbox row, answered 200, and applied by the worker
 * (reading an `id-only` focus from the EHR). The same events again are stored once.
 */
export function ehrNotificationRoutes(deps: AppDeps): Router {
  const router = Router();
  router.post(
    '/v1/ehr-notifications',
    command(deps, zodParser(NotificationBundle), async (input, ctx) => {
      const bundle = input as unknown as Bundle;
      const notification = readNotification(bundle);
      if (notification.type !== 'event-notification') {
        notifications.inc({ type: notification.type, result: 'acknowledged' });
        return { status: 200, body: { status: 'acknowledged', type: notification.type }, written: null };
      }
      const numbers = notification.events.map((e) => e.eventNumber).filter(Boolean);
      const controlId =
        numbers.length > 0
          ? numbers.join(',')
          : notification.eventsSinceStart ?? createHash('sha256').update(JSON.stringify(bundle)).digest('hex');
      const stored = await receiveInboundMessage(ctx.tx, ctx.tenantId, {
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
    if (req.query.content !== undefined && !['true', 'false'].includes(String(req.query.content))) throw badRequest('content must be true or false', 'content');
    const rows = await guardDatabase(() => listInboundMessages(requestDb(deps, res), { limit, ...(status ? { status } : {}) }));
    const withContent = req.query.content === 'true';
    sendResource(req, res, 200, { inboundMessages: rows.map((r) => inboundView(r, withContent)) });
  });
  return router;
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
