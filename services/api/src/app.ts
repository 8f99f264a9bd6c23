import express, { type Express } from 'express';
import { auditRequests } from './audit/requests';
import { AuditTrail } from './audit/trail';
import type { AppDeps } from './deps';
import { baseUrlOf } from './http/command';
import { tenantDb } from './http/tenant-db';
import { bearerAuth } from './http/auth';
import { DEFAULT_TENANT_ID } from './http/caller';
import { jwtAuth } from './http/jwt-auth';
import { errorHandler, unknownRoute } from './http/errors';
import { jsonBody } from './http/json-body';
import { rejectControlCharactersInPath } from './http/path-guard';
import { bodyTimeout } from './http/timeouts';
import { rejectUnknownV1Query } from './http/query';
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
  const deps: AppDeps = { ...given, logger: redactingLogger(given.logger), audit: given.audit ?? createAuditTrail(given) };
  const app = express();
  app.locals.audit = deps.audit;
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(requestLogger(deps.logger));
  app.use(rejectControlCharactersInPath);
  app.use(httpMetrics());
  // First, so a request refused anywhere after (401/403, 404) is still seen answered.
  app.use(auditRequests(deps.audit as AuditTrail, deps.now ?? (() => new Date())));
  // Before authentication: the page shell carries no patient data; its data requests carry the token.
  app.use(coursePageRoutes());
  app.use(
    deps.config.AUTH_MODE === 'jwt'
      ? jwtAuth(deps.config, { isKnownTenant: deps.isKnownTenant ?? ((id) => id === DEFAULT_TENANT_ID) })
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

/** The audit trail of an app's reads, writing each tenant's events as that tenant. */
export function createAuditTrail(deps: AppDeps): AuditTrail {
  return new AuditTrail({
    dbFor: (tenantId) => tenantDb(deps, tenantId),
    baseUrl: baseUrlOf(deps),
    batchSize: deps.config.AUDIT_BATCH_SIZE,
    flushMs: deps.config.AUDIT_FLUSH_MS,
    syncToEhr: deps.config.EHR_SYNC_AUDIT,
    logger: redactingLogger(deps.logger),
  });
}

/** The audit trail an app queues its AuditEvents in: to flush, and to close before the database. */
export function auditTrailOf(app: Express): AuditTrail {
  return app.locals.audit as AuditTrail;
}
