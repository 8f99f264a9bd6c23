import { OutcomeError, operationOutcome } from '@kap/fhir';
import type { RequestHandler } from 'express';

/**
 * Ids are opaque strings, but never control characters: PostgreSQL refuses a NUL in text,
 * and no id this service issues has one. Such a path names nothing, so it is a 404 before
 * any handler sees it (found by fuzzing as a 500).
 */
export const rejectControlCharactersInPath: RequestHandler = (req, _res, next) => {
  let path: string;
  try {
    path = decodeURIComponent(req.path);
  } catch {
    return next(new OutcomeError(400, operationOutcome([{ code: 'invalid', diagnostics: 'The path is not valid percent-encoding' }])));
  }
  if (/[\u0000-\u001F\u007F]/.test(path)) {
    return next(new OutcomeError(404, operationOutcome([{ code: 'not-found', diagnostics: 'No resource has that id' }])));
  }
  next();
};
