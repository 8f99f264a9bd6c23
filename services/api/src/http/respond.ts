import type { Request, Response } from 'express';

export const FHIR_JSON = 'application/fhir+json';

/** FHIR paths answer `application/fhir+json` (http://hl7.org/fhir/R4/http.html#mime-type); the rest `application/json`. */
export function sendResource(req: Request, res: Response, status: number, body: unknown): void {
  sendText(req, res, status, JSON.stringify(body));
}

/** Sends JSON already serialized, as is: a replayed response goes out byte for byte as first sent. */
export function sendText(req: Request, res: Response, status: number, json: string): void {
  const fhir = req.originalUrl.startsWith('/fhir/');
  res.status(status).type(fhir ? `${FHIR_JSON}; charset=utf-8` : 'application/json; charset=utf-8');
  res.send(json);
}

/** What a handler returns; only the HTTP layer turns it into a status line. */
export interface HandlerResult {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Whose data the body shows, for the request's AuditEvent; never sent. */
  readonly patientId?: string;
}
