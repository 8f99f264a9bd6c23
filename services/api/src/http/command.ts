import { createHash } from 'node:crypto';
import { publicBaseUrl, webhookUrls } from '@kap/config';
import { OutcomeError, badRequest, conflict, invalidInput, unavailable } from '@kap/fhir';
import { IdempotencyKeyTaken, findIdempotentResponse, saveIdempotentResponse, type Db, type JsonValue } from '@kap/store';
import type { Request, RequestHandler } from 'express';
import stringify from 'safe-stable-stringify';
import type { z } from 'zod';
import type { AppDeps } from '../deps';
import { sendResource, type HandlerResult } from './respond';

export interface CommandContext {
  /** The transaction every write of the command joins, with the idempotency record. */
  readonly tx: Db;
  readonly params: Readonly<Record<string, string>>;
  readonly now: Date;
  readonly baseUrl: string;
  /** Subscribers that receive CarePlan and care-team webhooks. */
  readonly webhookUrls: readonly string[];
}

export type Parser<T> = (body: unknown) => T;

/** A parser from a zod schema; its issues become a 400 OperationOutcome naming each field. */
export function zodParser<S extends z.ZodType>(schema: S): Parser<z.infer<S>> {
  return (body) => {
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw invalidInput(parsed.error.issues.map((i) => ({ ...i, keys: 'keys' in i ? i.keys : undefined })));
    return parsed.data;
  };
}

const MAX_KEY_LENGTH = 255;

/**
 * A POST that changes state. The body is parsed at the edge; the handler runs in one
 * database transaction; with an `Idempotency-Key` the response is stored in that same
 * transaction, so a replay within 24 hours returns it and does nothing again (api.md).
 */
export function command<T>(
  deps: AppDeps,
  parse: Parser<T>,
  handler: (input: T, ctx: CommandContext) => Promise<HandlerResult>,
): RequestHandler {
  return async (req, res) => {
    const key = idempotencyKey(req);
    const input = parse(req.body);
    const scope = `${req.method} ${req.baseUrl}${req.path}`;
    const requestHash = createHash('sha256').update(stringify(req.body ?? null) ?? '').digest('hex');

    const replay = async (): Promise<HandlerResult | undefined> => {
      if (!key) return undefined;
      const stored = await findIdempotentResponse(deps.db, scope, key);
      if (!stored) return undefined;
      if (stored.requestHash !== requestHash) {
        throw conflict(`Idempotency-Key "${key}" was already used with a different request body`, 'duplicate');
      }
      return { status: stored.status, body: stored.body, headers: { 'Idempotent-Replayed': 'true' } };
    };

    if (deps.queueCheck) {
      await deps.queueCheck().catch(() => {
        throw unavailable('The job queue (Redis) is unavailable; the request was not accepted');
      });
    }
    const result = await guardDatabase(async () => {
      const earlier = await replay();
      if (earlier) return earlier;
      try {
        return await deps.db.transaction(async (tx) => {
          const out = await handler(input, { tx, params: req.params as Record<string, string>, now: (deps.now ?? (() => new Date()))(), baseUrl: baseUrlOf(deps), webhookUrls: webhookUrls(deps.config) });
          if (key) await saveIdempotentResponse(tx, { scope, key, requestHash, status: out.status, body: out.body as JsonValue });
          return out;
        });
      } catch (err) {
        // A concurrent request with the same key committed first: answer as its replay.
        if (err instanceof IdempotencyKeyTaken) {
          const winner = await replay();
          if (winner) return winner;
        }
        throw err;
      }
    });
    for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
    sendResource(req, res, result.status, result.body);
  };
}

function idempotencyKey(req: Request): string | undefined {
  const key = req.get('Idempotency-Key');
  if (key === undefined) return undefined;
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw badRequest(`Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} characters`, 'header.Idempotency-Key');
  }
  return key;
}

/** The FHIR base under which Bundle `fullUrl`s address this adapter's resources. */
export function baseUrlOf(deps: AppDeps): string {
  return `${publicBaseUrl(deps.config)}/fhir/R4`;
}

/** Connection-level failures of PostgreSQL: the request was not accepted, so 503, not 500. */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);

export async function guardDatabase<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof OutcomeError) throw err;
    const code = (err as { code?: string }).code;
    const message = err instanceof Error ? err.message : '';
    if ((code && TRANSIENT_CODES.has(code)) || /Connection terminated|timeout exceeded when trying to connect/i.test(message)) {
      throw unavailable('The database is unavailable; the request was not accepted');
    }
    throw err;
  }
}
