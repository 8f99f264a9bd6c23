import express, { type Express } from 'express';
import type { AppDeps } from './deps';
import { bearerAuth } from './http/auth';
import { jwtAuth } from './http/jwt-auth';
import { errorHandler, unknownRoute } from './http/errors';
import { jsonBody } from './http/json-body';
import { rejectControlCharactersInPath } from './http/path-guard';
import { bodyTimeout } from './http/timeouts';
import { rejectUnknownV1Query } from './http/query';
import { tenantSettingsTable } from './http/tenant-settings';
import { requestLogger } from './ops/logging';
import { redactingLogger } from './ops/redaction';
import { coursePageRoutes } from './page/course-page';
import { httpMetrics, metricsRoutes } from './ops/metrics';
import { QUEUE_DASHBOARD_PATH, queueDashboard } from './ops/queue-dashboard';
import { adminRoutes } from './routes/admin';
import { courseRoutes } from './routes/courses';
import { ehrNotificationRoutes } from './routes/ehr-notifications';
import { fhirRoutes } from './routes/fhir';
import { screeningRoutes } from './routes/screenings';
import { systemRoutes } from './routes/system';

/** The HTTP app, without `listen`: main.ts serves it, tests drive it with supertest. */
export function createApp(given: AppDeps): Express {
  // Whatever logger the caller passes, no line the app writes carries patient data.
  const deps: AppDeps = { ...given, logger: redactingLogger(given.logger) };
  // Every tenant's rules are worked out now: a bad override stops start-up, not a screening.
  const tenants = tenantSettingsTable(deps);
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(requestLogger(deps.logger));
  app.use(rejectControlCharactersInPath);
  app.use(httpMetrics());
  // Before authentication: the page shell carries no patient data; its data requests carry the token.
  app.use(coursePageRoutes());
  app.use(
    deps.config.AUTH_MODE === 'jwt'
      ? jwtAuth(deps.config, { isKnownTenant: (id) => tenants.has(id) })
      : bearerAuth(deps.config),
  );
  app.use(rejectUnknownV1Query);
  app.use(metricsRoutes(deps.db, deps.queues));
  if (deps.queues) app.use(QUEUE_DASHBOARD_PATH, queueDashboard(deps.queues));
  app.use(bodyTimeout(deps.config.HTTP_BODY_TIMEOUT_MS));
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
