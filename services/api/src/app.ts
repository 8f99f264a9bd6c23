import { listSetting, trustProxy } from '@kap/config';
import cors from 'cors';
import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { AppDeps } from './deps';
import { auditRequests } from './audit/requests';
import { RefusalLog } from './audit/refusals';
import { AuditTrail } from './audit/trail';
import { baseUrlOf } from './http/command';
import { tenantDb } from './http/tenant-db';
import { jwtAuth } from './http/jwt-auth';
import { clientLimit, unauthenticatedLimit } from './http/rate-limits';
import { requireScopes } from './http/scopes';
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
import { operatorRoutes } from './routes/operator';
import { alertRoutes } from './routes/alerts';
import { courseRoutes } from './routes/courses';
import { ehrNotificationRoutes } from './routes/ehr-notifications';
import { fhirRoutes } from './routes/fhir';
import { screeningRoutes } from './routes/screenings';
import { smartConfigurationRoutes } from './routes/smart-configuration';
import { systemRoutes } from './routes/system';

/** The HTTP app, without `listen`: main.ts serves it, tests drive it with supertest. */
export function createApp(given: AppDeps): Express {
  // Whatever logger the caller passes, no line the app writes carries patient data.
  const deps: AppDeps = { ...given, logger: redactingLogger(given.logger), audit: given.audit ?? createAuditTrail(given) };
  // Every tenant's rules are worked out now: a bad override stops start-up, not a screening.
  const tenants = tenantSettingsTable(deps);
  const app = express();
  app.locals.audit = deps.audit;
  app.disable('x-powered-by');
  // The client address (per-address rate limit, logs) comes from X-Forwarded-For only through proxies named in TRUST_PROXY.
  app.set('trust proxy', trustProxy(deps.config));
  app.use(securityHeaders());
  app.use(requestLogger(deps.logger));
  app.use(rejectControlCharactersInPath);
  app.use(httpMetrics());
  // Early, so a request refused anywhere after (401/403, 404) is still seen answered.
  app.use(auditRequests(deps.audit as AuditTrail, deps.now ?? (() => new Date())));
  const corsOrigins = listSetting(deps.config.CORS_ORIGINS);
  // Closed unless configured: without CORS headers a browser on another origin cannot read any answer.
  if (corsOrigins.length > 0) app.use(crossOrigin(corsOrigins));
  // Before authentication: the page shell carries no patient data; its data requests carry the token.
  app.use(coursePageRoutes());
  app.use(smartConfigurationRoutes(deps.config));
  if (deps.config.AUTH_MODE === 'jwt') {
    app.use(unauthenticatedLimit(deps.config, deps.logger, deps.rateLimits));
    const now = deps.now ?? (() => new Date());
    app.use(
      jwtAuth(deps.config, {
        isKnownTenant: (id) => tenants.has(id),
        onRefused: (r) => (deps.audit as AuditTrail).refused({ ...r, at: now() }),
      }),
    );
    app.use(requireScopes());
    app.use(clientLimit(deps.config, deps.logger, deps.rateLimits));
  }
  app.use(rejectUnknownV1Query);
  app.use(metricsRoutes(deps.db, deps.queues));
  if (deps.queues) app.use(QUEUE_DASHBOARD_PATH, queueDashboard(deps.queues));
  app.use(bodyTimeout(deps.config.HTTP_BODY_TIMEOUT_MS));
  app.use(...jsonBody(deps.config.BODY_LIMIT));
  app.use(systemRoutes(deps));
  app.use(screeningRoutes(deps));
  app.use(courseRoutes(deps));
  app.use(alertRoutes(deps));
  app.use(adminRoutes(deps));
  app.use(operatorRoutes(deps));
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
    refusals: new RefusalLog({ db: deps.db, flushMs: deps.config.AUDIT_FLUSH_MS, logger: redactingLogger(deps.logger) }),
  });
}

/** The audit trail an app queues its AuditEvents in: to flush, and to close before the database. */
export function auditTrailOf(app: Express): AuditTrail {
  return app.locals.audit as AuditTrail;
}

/**
 * helmet's headers on every response. Its default Content-Security-Policy suits the JSON
 * routes and /docs (swagger-ui: same-origin scripts, inline styles, data: images); the
 * course page sets a stricter one of its own. No upgrade-insecure-requests: TLS ends at the
 * ingress, and the Quick start is plain HTTP on loopback, where it would break every request.
 */
function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: { directives: { 'upgrade-insecure-requests': null } },
    referrerPolicy: { policy: 'no-referrer' },
  });
}

/** CORS for the configured origins only (exact match); a preflight may send the headers the API reads. */
function crossOrigin(origins: readonly string[]): RequestHandler {
  return cors({
    origin: [...origins],
    methods: ['GET', 'HEAD', 'POST'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id', 'Accept'],
    exposedHeaders: ['Location', 'ETag', 'Retry-After', 'X-Request-Id', 'WWW-Authenticate'],
    maxAge: 600,
  });
}
