import { type RequestHandler } from 'express';
/**
 * Refuses a body that is not JSON with 415 before parsing it, then parses JSON (and FHIR
 * JSON) up to `limit`; a larger body is refused with 413 by the error handler.
 */
export declare function jsonBody(limit: string): RequestHandler[];
//# sourceMappingURL=json-body.d.ts.map