import express, { type Express } from 'express';
import type { AppDeps } from './deps';
import { bearerAuth } from './http/auth';
import { errorHandler, unknownRoute } from './http/errors';
import { jsonBody } from './http/json-body';
import { rejectControlCharactersInPath } from './http/path-guard';
import { requestLogger } from './ops/logging';
import { httpMetrics, metricsRoutes } from './ops/metrics';
import { QUEUE_DASHBOARD_PATH, queueDashboard } from './ops/queue-dashboard';
import { adminRoutes } from './routes/admin';
import { courseRoutes } from './routes/courses';
import { ehrNotificationRoutes } from './routes/ehr-notifications';
import { fhirRoutes } from './routes/fhir';
import { screeningRoutes } from './routes/screenings';
import { systemRoutes } from './routes/system';

/** The HTTP app, without `listen`: main.ts serves it, tests drive it with supertest. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(requestLogger(deps.logger));
  app.use(rejectControlCharactersInPath);
  app.use(httpMetrics());
  app.use(bearerAuth(deps.config));
  app.use(metricsRoutes(deps.db, deps.queues));
  if (deps.queues) app.use(QUEUE_DASHBOARD_PATH, queueDashboard(deps.queues));
  app.use(...jsonBody(deps.config.BODY_LIMIT));
  app.use(systemRoutes(deps));
  app.use(screeningRoutes(deps));
  app.use(courseRoutes(deps));
  app.use(adminRoutes(deps));
  app.use(ehrNotificationRoutes(deps));
  app.use(fhirRoutes(deps));
  app.use(unknownRoute);
  app.use(errorHandler(deps.logger));
  return app;
}
