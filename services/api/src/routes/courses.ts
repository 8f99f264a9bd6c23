import { CourseRequest } from '@kap/contracts';
import { Router } from 'express';
import type { AppDeps } from '../deps';
import { command, guardDatabase, zodParser } from '../http/command';
import { sendResource } from '../http/respond';
import { startCourse, viewCourse } from '../workflows/course';

export function courseRoutes(deps: AppDeps): Router {
  const router = Router();
  router.post('/v1/courses', command(deps, zodParser(CourseRequest), startCourse));
  router.get('/v1/courses/:id', async (req, res) => {
    const result = await guardDatabase(() => viewCourse(deps.db, req.params.id));
    sendResource(req, res, result.status, result.body);
  });
  return router;
}
