import { ReviewRequest, ScreeningRequest } from '@kap/contracts';
import { Router } from 'express';
import type { AppDeps } from '../deps';
import { command, zodParser } from '../http/command';
import { recordScreening, reviewScreening } from '../workflows/screening';

export function screeningRoutes(deps: AppDeps): Router {
  const router = Router();
  router.post(
    '/v1/screenings',
    command(deps, zodParser(ScreeningRequest), (input, ctx) => recordScreening(input, ctx, ctx.tenant.rules)),
  );
  router.post(
    '/v1/screenings/:id/review',
    command(deps, zodParser(ReviewRequest), (input, ctx) => reviewScreening(ctx.params.id as string, input, ctx)),
  );
  return router;
}
