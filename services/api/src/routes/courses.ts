import {
  CourseRequest,
  DosingSessionRequest,
  FollowUpCompleteRequest,
  GoalsOfCareRequest,
  MeasureRequest,
  StopRequest,
} from '@kap/contracts';
import { publicBaseUrl } from '@kap/config';
import { Router } from 'express';
import { noteAuditRead } from '../audit/requests';
import type { AppDeps } from '../deps';
import { command, guardDatabase, zodParser } from '../http/command';
import { sendResource } from '../http/respond';
import { requestDb } from '../http/tenant-db';
import { requestTenant } from '../http/tenant-settings';
import { startCourse, viewCourse } from '../workflows/course';
import { recordDosingSession } from '../workflows/dosing-session';
import { completeFollowUp } from '../workflows/follow-up';
import { recordGoalsOfCare } from '../workflows/goals-of-care';
import { stopCourseWorkflow } from '../workflows/stop';
import { courseDetail } from '../workflows/course-detail';
import { recordMeasure } from '../workflows/measures';
import { viewOutcomes } from '../workflows/outcomes';

export function courseRoutes(deps: AppDeps): Router {
  const router = Router();
  const c = deps.config;
  router.post('/v1/courses', command(deps, zodParser(CourseRequest), startCourse));
  router.get('/v1/courses/:id', async (req, res) => {
    const id = req.params.id;
    const tenant = requestTenant(deps, res);
    const alertThreshold = tenant.session.alertThreshold;
    // One transaction for all the reads: one tenant scope to set, and the view and its detail from one snapshot.
    const { result, detail } = await guardDatabase(() =>
      requestDb(deps, res).transaction(async (tx) => {
        const view = await viewCourse(tx, id);
        // Additive: what the course page shows, and where to find the page and the outcomes.
        return { result: view, detail: await courseDetail(tx, id, alertThreshold, tenant) };
      }),
    );
    noteAuditRead(res, { patients: [result.patientId], resources: [`CarePlan/${(result.body as { carePlanId: string }).carePlanId}`] });
    const base = publicBaseUrl(c);
    const links = { page: `${base}/courses/${encodeURIComponent(id)}`, outcomes: `${base}/v1/courses/${encodeURIComponent(id)}/outcomes` };
    sendResource(req, res, result.status, { ...(result.body as object), ...detail, links });
  });
  router.post(
    '/v1/courses/:id/measures',
    command(deps, zodParser(MeasureRequest), (input, ctx) => recordMeasure(ctx.params.id as string, input, ctx)),
  );
  router.get('/v1/courses/:id/outcomes', async (req, res) => {
    const result = await guardDatabase(() => requestDb(deps, res).transaction((tx) => viewOutcomes(tx, req.params.id)));
    noteAuditRead(res, { patients: [result.patientId] });
    sendResource(req, res, result.status, result.body);
  });
  router.post(
    '/v1/courses/:id/dosing-sessions',
    command(deps, zodParser(DosingSessionRequest), (input, ctx) =>
      recordDosingSession(ctx.params.id as string, input, ctx, ctx.tenant.session),
    ),
  );
  router.post(
    '/v1/courses/:id/goals-of-care',
    command(deps, zodParser(GoalsOfCareRequest), (input, ctx) => recordGoalsOfCare(ctx.params.id as string, input, ctx)),
  );
  router.post(
    '/v1/courses/:id/stop',
    command(deps, zodParser(StopRequest), (input, ctx) => stopCourseWorkflow(ctx.params.id as string, input, ctx)),
  );
  router.post(
    '/v1/follow-ups/:id/complete',
    command(deps, zodParser(FollowUpCompleteRequest), (input, ctx) => completeFollowUp(ctx.params.id as string, input, ctx)),
  );
  return router;
}
