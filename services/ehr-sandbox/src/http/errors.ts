import { getStatus, OperationOutcomeError, serverError } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { ErrorRequestHandler } from 'express';
import { errorOutcome, HttpError } from '../fhir/outcomes';
import { FHIR_JSON } from './fhir-json';

/** Shape of the errors raised by express's body parsers. */
interface BodyParserError {
  readonly type?: string;
  readonly status?: number;
  readonly message?: string;
}

/**
 * The one place errors become responses: every error, a 500 included, is an OperationOutcome.
 * @see http://hl7.org/fhir/R4/http.html#return (status codes and OperationOutcome)
 */
export const errorHandler: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
  const { status, outcome, headers } = classify(err);
  if (res.headersSent) {
    res.end();
    return;
  }
  res.status(status).set(headers).set('Content-Type', FHIR_JSON).send(JSON.stringify(outcome));
};

function classify(err: unknown): {
  status: number;
  outcome: OperationOutcome;
  headers: Readonly<Record<string, string>>;
} {
  if (err instanceof HttpError) {
    return { status: err.status, outcome: err.outcome, headers: err.headers };
  }
  if (err instanceof OperationOutcomeError) {
    return { status: getStatus(err.outcome), outcome: err.outcome, headers: {} };
  }
  const parserError = (typeof err === 'object' && err !== null ? err : {}) as BodyParserError;
  switch (parserError.type) {
    case 'entity.parse.failed':
      return { status: 400, outcome: errorOutcome('structure', 'Request body is not valid JSON'), headers: {} };
    case 'entity.too.large':
      return { status: 413, outcome: errorOutcome('too-costly', 'Request body is too large'), headers: {} };
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return { status: 415, outcome: errorOutcome('not-supported', parserError.message ?? 'Unsupported encoding'), headers: {} };
    default:
      return { status: 500, outcome: serverError(err instanceof Error ? err : new Error(String(err))), headers: {} };
  }
}
