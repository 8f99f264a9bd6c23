import { badRequest } from '@kap/fhir';
import type { Request, RequestHandler } from 'express';

/**
 * The query parameters each `/v1` path takes; every other `/v1` path takes none. A
 * parameter the service does not know is a 400 naming it, never silently ignored: a
 * caller who misspells `limit` should learn it, not get a default.
 */
const V1_QUERY_PARAMS: ReadonlyArray<readonly [RegExp, readonly string[]]> = [
  [/^\/v1\/admin\/dead-letters\/?$/, ['limit', 'offset']],
  [/^\/v1\/admin\/inbound-messages\/?$/, ['limit', 'status', 'content']],
  [/^\/v1\/operator\/unrouted-messages\/?$/, ['limit', 'content']],
  [/^\/v1\/alerts\/?$/, ['status', 'patient', '_count', '_page']],
  [/^\/v1\/operator\/audit-events\/?$/, ['limit']],
];

export const rejectUnknownV1Query: RequestHandler = (req, _res, next) => {
  if (!req.path.startsWith('/v1/')) return next();
  const allowed = V1_QUERY_PARAMS.find(([path]) => path.test(req.path))?.[1] ?? [];
  for (const [name, value] of Object.entries(req.query as Record<string, unknown>)) {
    if (!allowed.includes(name)) {
      return next(
        badRequest(
          allowed.length > 0 ? `Unknown query parameter; this path takes ${allowed.join(', ')}` : 'This path takes no query parameters',
          name,
        ),
      );
    }
    if (typeof value !== 'string') return next(badRequest('A query parameter may be given once', name));
  }
  next();
};

/** An integer query parameter from `min` to `max`; absent gives `fallback`; anything else is a 400 naming it. */
export function intQuery(req: Request, name: string, bounds: { min: number; max: number; fallback: number }): number {
  const raw = (req.query as Record<string, unknown>)[name];
  if (raw === undefined) return bounds.fallback;
  if (typeof raw !== 'string' || !/^\d{1,16}$/.test(raw))
    throw badRequest(`${name} must be an integer from ${bounds.min} to ${bounds.max}`, name);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < bounds.min || n > bounds.max)
    throw badRequest(`${name} must be an integer from ${bounds.min} to ${bounds.max}`, name);
  return n;
}
