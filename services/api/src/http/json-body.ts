import { OutcomeError, operationOutcome } from '@kap/fhir';
import type { IncomingMessage } from 'node:http';
import express, { type RequestHandler } from 'express';

const JSON_TYPES = ['application/json', 'application/fhir+json', 'application/*+json'];

/**
 * Refuses a body that is not JSON with 415 before parsing it, then parses JSON (and FHIR
 * JSON) up to `limit`; a larger body is refused with 413 by the error handler.
 */
export function jsonBody(limit: string): RequestHandler[] {
  const requireJson: RequestHandler = (req, _res, next) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (!['POST', 'PUT', 'PATCH'].includes(req.method) || (!hasBody && !req.headers['content-type'])) return next();
    if (!req.is(JSON_TYPES)) {
      return next(
        new OutcomeError(
          415,
          operationOutcome([
            {
              code: 'not-supported',
              diagnostics: `Content-Type must be application/json or application/fhir+json, not ${req.headers['content-type'] ?? 'none'}`,
            },
          ]),
        ),
      );
    }
    next();
  };
  // The bytes as sent are kept: a signed body (an EHR's rest-hook `X-Signature`) is checked on them, not on a re-serialisation.
  const keepRaw = (req: IncomingMessage, _res: unknown, buf: Buffer): void => {
    (req as IncomingMessage & { rawBody?: Buffer }).rawBody = buf;
  };
  return [requireJson, express.json({ limit, type: JSON_TYPES, strict: true, verify: keepRaw })];
}
