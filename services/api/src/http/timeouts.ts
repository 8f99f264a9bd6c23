import { OutcomeError, operationOutcome } from '@kap/fhir';
import type { RequestHandler } from 'express';
import { sendResource } from './respond';

/** The 408 a client too slow to send its request gets, as an OperationOutcome like every error. */
export const requestTimeoutOutcome = (): OutcomeError =>
  new OutcomeError(408, operationOutcome([{ code: 'timeout', diagnostics: 'The request was not received in time; send it again' }]), {
    Connection: 'close',
  });

/**
 * A body must arrive within `ms` of its headers. A client that announces a body and then
 * sends it slowly, or not at all, would otherwise hold a socket and a parser for as long
 * as it likes. It is answered 408 (logged as a client error) and its connection closed.
 */
export function bodyTimeout(ms: number): RequestHandler {
  return (req, res, next) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (!hasBody || req.complete) return next();
    const timer = setTimeout(() => {
      if (req.complete || res.headersSent) return;
      const error = requestTimeoutOutcome();
      for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
      res.once('finish', () => req.socket.destroySoon());
      sendResource(req, res, error.status, error.outcome);
    }, ms);
    timer.unref();
    const clear = (): void => clearTimeout(timer);
    req.once('end', clear);
    req.once('close', clear);
    res.once('close', clear);
    next();
  };
}
