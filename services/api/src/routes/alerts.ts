import { AlertAcknowledgeRequest, AlertResolveRequest } from '@kap/contracts';
import { Router } from 'express';
import { noteAuditRead } from '../audit/requests';
import type { AppDeps } from '../deps';
import { badRequest } from '@kap/fhir';
import { command, guardDatabase, zodParser } from '../http/command';
import { intQuery } from '../http/query';
import { sendResource } from '../http/respond';
import { requestDb } from '../http/tenant-db';
import { requestTenant } from '../http/tenant-settings';
import { closeAlertStep, listAlerts } from '../workflows/alerts';

/** Safety alerts: the open ones, and a clinician acknowledging or resolving one. */
export function alertRoutes(deps: AppDeps): Router {
  const router = Router();
  router.get('/v1/alerts', async (req, res) => {
    const tenant = requestTenant(deps, res);
    const q = req.query as Record<string, string | undefined>;
    const status = q.status ?? 'open';
    if (status !== 'open' && status !== 'acknowledged' && status !== 'resolved')
      throw badRequest('status must be open, acknowledged or resolved', 'status');
    const patientId = q.patient?.replace(/^Patient\//, '');
    if (q.patient !== undefined && !/^[A-Za-z0-9\-.]{1,64}$/.test(patientId ?? ''))
      throw badRequest('patient must be Patient/<id> or the id', 'patient');
    const query = {
      status,
      ...(patientId ? { patientId } : {}),
      count: intQuery(req, '_count', { min: 1, max: 100, fallback: 50 }),
      page: intQuery(req, '_page', { min: 1, max: 100_000, fallback: 1 }),
    } as const;
    const { patientIds, ...body } = await guardDatabase(() => requestDb(deps, res).transaction((tx) => listAlerts(tx, tenant, query)));
    noteAuditRead(res, { patients: patientIds, resources: body.alerts.map((a) => a.flag) });
    sendResource(req, res, 200, body);
  });
  router.post(
    '/v1/alerts/:id/acknowledge',
    command(deps, zodParser(AlertAcknowledgeRequest), (input, ctx) =>
      closeAlertStep('acknowledgement', ctx.params.id as string, input, ctx),
    ),
  );
  router.post(
    '/v1/alerts/:id/resolve',
    command(deps, zodParser(AlertResolveRequest), (input, ctx) => closeAlertStep('resolution', ctx.params.id as string, input, ctx)),
  );
  return router;
}
