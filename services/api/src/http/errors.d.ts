import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
/** The one place an error becomes an HTTP response: always an OperationOutcome, never a stack trace. */
export declare function errorHandler(logger: Logger): ErrorRequestHandler;
export declare const unknownRoute: RequestHandler;
//# sourceMappingURL=errors.d.ts.map