import { type Db } from '@kap/store';
import type { RequestHandler } from 'express';
import type { z } from 'zod';
import type { AppDeps } from '../deps';
import { type HandlerResult } from './respond';
export interface CommandContext {
    /** The transaction every write of the command joins, with the idempotency record. */
    readonly tx: Db;
    readonly params: Readonly<Record<string, string>>;
    readonly now: Date;
    readonly baseUrl: string;
}
export type Parser<T> = (body: unknown) => T;
/** A parser from a zod schema; its issues become a 400 OperationOutcome naming each field. */
export declare function zodParser<S extends z.ZodType>(schema: S): Parser<z.infer<S>>;
/**
 * A POST that changes state. The body is parsed at the edge; the handler runs in one
 * database transaction; with an `Idempotency-Key` the response is stored in that same
 * transaction, so a replay within 24 hours returns it and does nothing again (api.md).
 */
export declare function command<T>(deps: AppDeps, parse: Parser<T>, handler: (input: T, ctx: CommandContext) => Promise<HandlerResult>): RequestHandler;
/** The FHIR base under which Bundle `fullUrl`s address this adapter's resources. */
export declare function baseUrlOf(deps: AppDeps): string;
export declare function guardDatabase<T>(fn: () => Promise<T>): Promise<T>;
//# sourceMappingURL=command.d.ts.map