import { createHash, timingSafeEqual } from 'node:crypto';
import { listSetting, type Config } from '@kap/config';
import { OutcomeError, operationOutcome } from '@kap/fhir';
import type { RequestHandler } from 'express';

/** Open to load balancers, Prometheus and people reading the docs; they carry no patient data. */
const OPEN_PATHS = [/^\/health$/, /^\/ready$/, /^\/metrics$/, /^\/openapi\.json$/, /^\/docs(\/|$)/, /^\/fhir\/R4\/metadata$/];
const ADMIN_PATHS = [/^\/v1\/admin(\/|$)/, /^\/admin(\/|$)/];

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

function matches(token: string, allowed: readonly Buffer[]): boolean {
  const given = digest(token);
  // Compare digests in constant time, and every one of them, so timing says nothing about which.
  return allowed.reduce((found, candidate) => timingSafeEqual(given, candidate) || found, false);
}

const unauthorized = (diagnostics: string): OutcomeError =>
  new OutcomeError(401, operationOutcome([{ code: 'login', diagnostics }]), { 'WWW-Authenticate': 'Bearer realm="kap-adapter"' });

/**
 * Bearer-token authentication when API_TOKENS or API_ADMIN_TOKENS is set: 401 without a
 * valid token, 403 for a clinical token on the admin routes. With neither set the API is
 * open, as on a developer's machine; main.ts warns about that in production.
 */
export function bearerAuth(config: Config): RequestHandler {
  const admin = listSetting(config.API_ADMIN_TOKENS).map(digest);
  const clinical = [...listSetting(config.API_TOKENS).map(digest), ...admin];
  if (clinical.length === 0) return (_req, _res, next) => next();
  return (req, _res, next) => {
    if (OPEN_PATHS.some((p) => p.test(req.path))) return next();
    const header = req.get('Authorization') ?? '';
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!token) return next(unauthorized('An Authorization: Bearer token is required'));
    if (!matches(token, clinical)) return next(unauthorized('The bearer token is not valid'));
    if (ADMIN_PATHS.some((p) => p.test(req.path)) && !matches(token, admin)) {
      return next(new OutcomeError(403, operationOutcome([{ code: 'forbidden', diagnostics: 'This token may not use the admin routes' }])));
    }
    next();
  };
}
