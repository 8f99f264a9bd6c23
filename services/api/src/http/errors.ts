import { OutcomeError, operationOutcome } from '@kap/fhir';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { safeError } from '../ops/redaction';
import { allowedMethods } from './methods';
import { sendResource } from './respond';

/** body-parser's and raw-body's errors carry an HTTP status and often a `type`. */
interface HttpError {
  status?: number;
  statusCode?: number;
  type?: string;
  message?: string;
  code?: string;
}

const outcome = (
  status: number,
  code: 'invalid' | 'structure' | 'too-costly' | 'not-supported' | 'incomplete',
  diagnostics: string,
): OutcomeError => new OutcomeError(status, operationOutcome([{ code, diagnostics }]));

/**
 * A client's fault found while reading the body. The parser's own message is never
 * echoed: V8's JSON errors quote the body, which may be a patient's record.
 */
function fromBodyReader(err: HttpError): OutcomeError | undefined {
  const status = err.status ?? err.statusCode;
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  switch (err.type) {
    case 'entity.too.large':
      return outcome(413, 'too-costly', 'Request body is larger than the limit');
    case 'entity.parse.failed': {
      const position = /position (\d+)/.exec(err.message ?? '')?.[1];
      return outcome(400, 'structure', `Body is not valid JSON${position ? ` (at byte ${position})` : ''}`);
    }
    case 'encoding.unsupported':
      return outcome(415, 'not-supported', 'Content-Encoding must be identity, gzip, deflate or br');
    case 'charset.unsupported':
      return outcome(415, 'not-supported', 'The body must be UTF-8');
    case 'request.aborted':
      return outcome(400, 'incomplete', 'The request body ended before Content-Length bytes arrived');
    case 'request.size.invalid':
      return outcome(400, 'invalid', 'The body length does not match Content-Length');
    default:
      // zlib's errors (a gzip or br body that does not decompress) arrive here without a type.
      if (err.code?.startsWith('Z_') || /incorrect header|unexpected end|invalid|decompress/i.test(err.message ?? '')) {
        return outcome(400, 'invalid', 'The body could not be decompressed as its Content-Encoding says');
      }
      return outcome(status, 'invalid', 'The request could not be read');
  }
}

/**
 * PostgreSQL's "data exception" class (SQLSTATE 22xxx) and a value too large to index
 * (54000) mean a value of the request could not be stored. The contracts should have
 * refused it with the field named; this backstop keeps it a 400, never a 500, and the
 * warning tells operators a rule is missing.
 */
function fromDatabase(err: HttpError, logger: Logger): OutcomeError | undefined {
  const code = err.code;
  if (typeof code !== 'string' || !/^(22[0-9A-Z]{3}|54000)$/.test(code)) return undefined;
  logger.warn({ err: safeError(err) }, 'input refused by the database: a validation rule is missing at the edge');
  return outcome(400, 'invalid', 'A value in the request cannot be stored: it is not valid text, a valid date or a plausible size');
}

/** The one place an error becomes an HTTP response: always an OperationOutcome, never a stack trace. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    // An answer was already given (a 408 for a body too slow); what fails after it is the
    // client going away, not a server error.
    if (res.headersSent) {
      logger.debug({ err: safeError(err) }, 'error after the response was sent');
      return;
    }
    const known = err instanceof OutcomeError ? err : (fromBodyReader(err as HttpError) ?? fromDatabase(err as HttpError, logger));
    if (known) {
      for (const [name, value] of Object.entries(known.headers)) res.setHeader(name, value);
      sendResource(req, res, known.status, known.outcome);
      return;
    }
    logger.error({ err: safeError(err), method: req.method, path: req.route?.path ?? '(unrouted)' }, 'unhandled error');
    sendResource(req, res, 500, operationOutcome([{ code: 'exception', diagnostics: 'Internal error; it has been logged' }]));
  };
}

/** A known path with another method is 405 with `Allow`; anything else 404. */
export const unknownRoute: RequestHandler = (req, res, next) => {
  const allowed = allowedMethods(req.app, req.path);
  if (allowed.length > 0) {
    res.setHeader('Allow', allowed.join(', '));
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next(
      new OutcomeError(
        405,
        operationOutcome([{ code: 'not-supported', diagnostics: `${req.method} is not allowed here; use ${allowed.join(' or ')}` }]),
      ),
    );
    return;
  }
  next(new OutcomeError(404, operationOutcome([{ code: 'not-found', diagnostics: `Nothing answers ${req.method} at this path` }])));
};
