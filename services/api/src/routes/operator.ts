import { createHash } from 'node:crypto';
import { badRequest, buildRefusedTokenAuditEvent } from '@kap/fhir';
import { listDeploymentAudit, listUnroutedMessages, type UnroutedMessageRow } from '@kap/store';
import { Router } from 'express';
import type { AppDeps } from '../deps';
import { baseUrlOf, guardDatabase } from '../http/command';
import { intQuery } from '../http/query';
import { sendResource } from '../http/respond';

/**
 * The deployment's operator, not a tenant's: what belongs to no tenant, read through the
 * deployment's handle. `kap/operator` guards it (http/scopes.ts); a tenant's `kap/admin` does not reach it.
 */
export function operatorRoutes(deps: AppDeps): Router {
  const router = Router();
  // HL7 v2 messages whose sender no tenant claims: refused (AR), kept here, never in a tenant's inbound messages.
  router.get('/v1/operator/unrouted-messages', async (req, res) => {
    const limit = intQuery(req, 'limit', { min: 1, max: 1000, fallback: 100 });
    if (req.query.content !== undefined && !['true', 'false'].includes(String(req.query.content)))
      throw badRequest('content must be true or false', 'content');
    const rows = await guardDatabase(() => listUnroutedMessages(deps.db, { limit }));
    const withContent = req.query.content === 'true';
    sendResource(req, res, 200, { unroutedMessages: rows.map((r) => unroutedView(r, withContent)) });
  });
  // Refused tokens (401), which belong to no tenant, as AuditEvents.
  router.get('/v1/operator/audit-events', async (req, res) => {
    const limit = intQuery(req, 'limit', { min: 1, max: 1000, fallback: 100 });
    const rows = await guardDatabase(() => listDeploymentAudit(deps.db, { count: limit }));
    const baseUrl = baseUrlOf(deps);
    const entry = rows.map((row) => {
      const id = `refused-${createHash('sha256')
        .update(JSON.stringify([row.windowStart, row.kind, row.clientId, row.address, row.reason]))
        .digest('hex')
        .slice(0, 32)}`;
      return { resource: buildRefusedTokenAuditEvent({ id, ...row, baseUrl }) };
    });
    sendResource(req, res, 200, { resourceType: 'Bundle', type: 'searchset', total: entry.length, entry });
  });
  return router;
}

function unroutedView(row: UnroutedMessageRow, withContent: boolean) {
  return {
    id: String(row.id),
    channel: row.channel,
    sender: row.sender,
    controlId: row.controlId,
    messageType: row.messageType,
    ackCode: row.ackCode,
    problem: row.problem,
    receivedAt: row.receivedAt,
    ...(withContent ? { content: row.content } : {}),
  };
}
