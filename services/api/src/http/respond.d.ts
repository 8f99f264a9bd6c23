import type { Request, Response } from 'express';
export declare const FHIR_JSON = "application/fhir+json";
/** FHIR paths answer `application/fhir+json` (http://hl7.org/fhir/R4/http.html#mime-type); the rest `application/json`. */
export declare function sendResource(req: Request, res: Response, status: number, body: unknown): void;
/** What a handler returns; only the HTTP layer turns it into a status line. */
export interface HandlerResult {
    readonly status: number;
    readonly body: unknown;
    readonly headers?: Readonly<Record<string, string>>;
}
//# sourceMappingURL=respond.d.ts.map