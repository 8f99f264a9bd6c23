import { randomUUID } from 'node:crypto';
import { notFound } from '@kap/fhir';
import { WORK, enqueueWork } from '@kap/queue';
import {
  createReconciliation,
  getReconciliation,
  hl7OutCounts,
  listDeadLetters,
  listHl7OutMessages,
  patientIdFor,
  redriveDeadLetter,
  syncStatusCounts,
  type OutboxRow,
} from '@kap/store';
import { Router } from 'express';
import { z } from 'zod';
import { ReconcileRequest } from '@kap/contracts';
import { callerOf } from '../http/caller';
import type { AppDeps } from '../deps';
import { command, guardDatabase, zodParser } from '../http/command';
import { requestTenant } from '../http/tenant-settings';
import { intQuery } from '../http/query';
import { sendResource } from '../http/respond';
import { requestDb } from '../http/tenant-db';

/** How many of the newest HL7 v2 messages sync-status lists. */
const HL7_OUT_LISTED = 100;

const view = (row: OutboxRow) => ({
  id: row.id,
  topic: row.topic,
  patientId: row.patientId,
  createdAt: row.createdAt,
  deadAt: row.deadAt,
  attempts: row.attempts,
  lastError: row.lastError,
});

/**
 * Operators' view of delivery: work the queues gave up on and the way to send it again,
 * counts of resources by sync state, and reconciliation against what the EHR really holds.
 */
export function adminRoutes(deps: AppDeps): Router {
  const router = Router();
  router.get('/v1/admin/dead-letters', async (req, res) => {
    const limit = intQuery(req, 'limit', { min: 1, max: 1000, fallback: 100 });
    const offset = intQuery(req, 'offset', { min: 0, max: Number.MAX_SAFE_INTEGER, fallback: 0 });
    const rows = await guardDatabase(() => listDeadLetters(requestDb(deps, res), { limit, offset }));
    sendResource(req, res, 200, { deadLetters: rows.map(view) });
  });
  router.post(
    '/v1/admin/dead-letters/:id/redrive',
    command(deps, zodParser(z.strictObject({}).optional()), async (_input, ctx) => {
      const id = Number(ctx.params.id);
      const row = Number.isSafeInteger(id) ? await redriveDeadLetter(ctx.tx, id) : undefined;
      if (!row) throw notFound(`Dead letter ${ctx.params.id}`);
      return { status: 200, body: { redriven: view(row) }, written: null };
    }),
  );
  router.get('/v1/admin/sync-status', async (req, res) => {
    // An operator of one hospital sees that hospital's delivery only.
    const db = requestDb(deps, res);
    const counts = await guardDatabase(() => syncStatusCounts(db));
    // A tenant that sends HL7 v2 also sees each message's delivery (newest first; the whole history is in the outbox).
    const hl7v2 = requestTenant(deps, res).hl7Out
      ? await guardDatabase(async () => ({
          ...(await hl7OutCounts(db, WORK.hl7Out.topic)),
          messages: await listHl7OutMessages(db, WORK.hl7Out.topic, { limit: HL7_OUT_LISTED }),
        }))
      : undefined;
    sendResource(req, res, 200, { tenants: [{ tenant: callerOf(res).tenantId, ...counts, ...(hl7v2 ? { hl7v2 } : {}) }] });
  });
  router.post(
    '/v1/admin/reconcile',
    command(deps, zodParser(ReconcileRequest.optional()), async (input, ctx) => {
      let patientId: string | null = null;
      if (input?.patient) {
        patientId = (await patientIdFor(ctx.tx, input.patient)) ?? null;
        // The identifier is not echoed: an error body carries no patient data.
        if (!patientId) throw notFound('A patient with that identifier');
      }
      const reconciliation = await createReconciliation(ctx.tx, randomUUID(), patientId);
      await enqueueWork(ctx.tx, WORK.reconcile, { reconciliationId: reconciliation.id }, { patientId });
      return {
        status: 202,
        body: { reconciliationId: reconciliation.id },
        headers: { Location: `/v1/admin/reconcile/${reconciliation.id}` },
        written: null,
      };
    }),
  );
  router.get('/v1/admin/reconcile/:id', async (req, res) => {
    const reconciliation = await guardDatabase(() => getReconciliation(requestDb(deps, res), req.params.id));
    if (!reconciliation) throw notFound(`Reconciliation ${req.params.id}`);
    const count = (status: string): number => reconciliation.results.filter((r) => r.status === status).length;
    sendResource(req, res, 200, {
      reconciliationId: reconciliation.id,
      status: reconciliation.finishedAt ? (reconciliation.error ? 'failed' : 'finished') : 'running',
      requestedAt: reconciliation.requestedAt,
      finishedAt: reconciliation.finishedAt,
      ...(reconciliation.error ? { error: reconciliation.error } : {}),
      summary: {
        inEhr: count('in-ehr'),
        missing: count('missing'),
        different: count('different'),
        duplicated: reconciliation.results.filter((r) => (r.duplicates?.length ?? 0) > 0).length,
      },
      resources: reconciliation.results,
    });
  });
  return router;
}
