import { AlertAcknowledgeRequest, AlertResolveRequest } from '@kap/contracts';
import { Router } from 'express';
import { noteAuditRead } from '../audit/requests';
import type { AppDeps } from '../deps';
import { command, guardDatabase, zodParser } from '../http/command';
import { sendResource } from '../http/respond';
import { requestDb } from '../http/tenant-db';
import { requestTenant } from '../http/tenant-settings';
import { closeAlertStep, listAlerts } from '../workflows/alerts';

/** Safety alerts: the open ones, and a clinician acknowledging or resolving one. */
export function alertRoutes(deps: AppDeps): Router {
  const router = Router();
  router.get('/v1/alerts', async (req, res) => {
    const tenant = requestTenant(deps, res);
    const { patientIds, ...body } = await guardDatabase(() => requestDb(deps, res).transaction((tx) => listAlerts(tx, tenant)));
    noteAuditRead(res, { patients: patientIds, resources: body.alerts.map((a) => a.flag) });
    sendResource(req, res, 200, body);
  });
  router.post(
    '/v1/alerts/:id/acknowledge',
    command(deps, zodParser(AlertAcknowledgeRequest), (input, ctx) => closeAlertStep('acknowledgement', ctx.params.id as string, input, ctx)),
  );
  router.post(
    '/v1/alerts/:id/resolve',
    command(deps, zodParser(AlertResolveRequest), (input, ctx) => closeAlertStep('resolution', ctx.params.id as string, input, ctx)),
  );
  return router;
}
