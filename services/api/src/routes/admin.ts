import { notFound } from '@kap/fhir';
import { listDeadLetters, redriveDeadLetter, type OutboxRow } from '@kap/store';
import { Router } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps';
import { command, guardDatabase, zodParser } from '../http/command';
import { intQuery } from '../http/query';
import { sendResource } from '../http/respond';

const view = (row: OutboxRow) => ({
  id: row.id,
  topic: row.topic,
  patientId: row.patientId,
  createdAt: row.createdAt,
  deadAt: row.deadAt,
  attempts: row.attempts,
  lastError: row.lastError,
});

/** Operators' view of work the queues gave up on, and the way to send it again once the cause is fixed. */
export function adminRoutes(deps: AppDeps): Router {
  const router = Router();
  router.get('/v1/admin/dead-letters', async (req, res) => {
    const limit = intQuery(req, 'limit', { min: 1, max: 1000, fallback: 100 });
    const offset = intQuery(req, 'offset', { min: 0, max: Number.MAX_SAFE_INTEGER, fallback: 0 });
    const rows = await guardDatabase(() => listDeadLetters(deps.db, { limit, offset }));
    sendResource(req, res, 200, { deadLetters: rows.map(view) });
  });
  router.post(
    '/v1/admin/dead-letters/:id/redrive',
    command(deps, zodParser(z.strictObject({}).optional()), async (_input, ctx) => {
      const id = Number(ctx.params.id);
      const row = Number.isSafeInteger(id) ? await redriveDeadLetter(ctx.tx, id) : undefined;
      if (!row) throw notFound(`Dead letter ${ctx.params.id}`);
      return { status: 200, body: { redriven: view(row) } };
    }),
  );
  return router;
}
