import { OutcomeError, operationOutcome } from '@kap/fhir';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { sendResource } from './respond';

/** body-parser's errors carry an HTTP status and a `type`; map them to OperationOutcomes. */
interface BodyParserError {
  status?: number;
  type?: string;
  message?: string;
}

function fromBodyParser(err: BodyParserError): OutcomeError | undefined {
  switch (err.type) {
    case 'entity.too.large':
      return new OutcomeError(413, operationOutcome([{ code: 'too-costly', diagnostics: 'Request body is larger than the limit' }]));
    case 'entity.parse.failed':
      return new OutcomeError(400, operationOutcome([{ code: 'structure', diagnostics: `Body is not valid JSON: ${err.message ?? ''}`.trim() }]));
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new OutcomeError(415, operationOutcome([{ code: 'not-supported', diagnostics: err.message ?? 'Unsupported encoding' }]));
    default:
      return undefined;
  }
}

/** The one place an error becomes an HTTP response: always an OperationOutcome, never a stack trace. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const known = err instanceof OutcomeError ? err : fromBodyParser(err as BodyParserError);
    if (known) {
      for (const [name, value] of Object.entries(known.headers)) res.setHeader(name, value);
      sendResource(req, res, known.status, known.outcome);
      return;
    }
    logger.error({ err, method: req.method, path: req.path }, 'unhandled error');
    sendResource(
      req,
      res,
      500,
      operationOutcome([{ code: 'exception', diagnostics: 'Internal error; it has been logged' }]),
    );
  };
}

export const unknownRoute: RequestHandler = (req, _res, next) => {
  next(new OutcomeError(404, operationOutcome([{ code: 'not-found', diagnostics: `No route for ${req.method} ${req.path}` }])));
};
