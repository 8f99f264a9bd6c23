import { createHash } from 'node:crypto';
import { publicBaseUrl } from '@kap/config';
import { OutcomeError, badRequest, conflict, invalidInput, unavailable } from '@kap/fhir';
import { IdempotencyKeyTaken, claimIdempotencyKey, completeIdempotencyKey, findIdempotentResponse, type Db, type JsonValue } from '@kap/store';
import type { Request, RequestHandler, Response } from 'express';
import stringify from 'safe-stable-stringify';
import type { z } from 'zod';
import type { AppDeps } from '../deps';
import { sendText, type HandlerResult } from './respond';
import { requestDb } from './tenant-db';
import { requestTenant, type TenantSettings } from './tenant-settings';

export interface CommandContext {
  /** The transaction every write of the command joins, with the idempotency record. */
  readonly tx: Db;
  readonly params: Readonly<Record<string, string>>;
  readonly now: Date;
  readonly baseUrl: string;
  /** The caller's tenant: whose data this is, and whose jobs the command asks for. */
  readonly tenantId: string;
  /** That tenant's rules, follow-up timing and webhooks. */
  readonly tenant: TenantSettings;
  /** The tenant's subscribers that receive CarePlan and care-team webhooks. */
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

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * Whose keys these are: an authentication layer's principal when it names one, else the
 * bearer token (hashed), else one scope for an open deployment. Keys of different callers
 * never meet; one caller's key names one request across every endpoint (api.md).
 */
function callerScope(req: Request, res: Response): string {
  const principal = (res.locals as { principal?: { id?: unknown } }).principal?.id;
  if (typeof principal === 'string' && principal) return `principal:${principal}`;
  const auth = req.get('Authorization');
  return auth ? `token:${sha256(auth).slice(0, 32)}` : 'anonymous';
}

interface CommandOutcome extends HandlerResult {
  /** The body exactly as sent (and as a replay sends it again). */
  readonly text: string;
}

/**
 * A POST that changes state. The body is parsed at the edge; the handler runs in one
 * database transaction. With an `Idempotency-Key` the key is claimed first in that
 * transaction and its response stored last, so concurrent requests with one key give one
 * result, and a replay within 24 hours returns the stored bytes and does nothing again.
 */
export function command<T>(
  deps: AppDeps,
  parse: Parser<T>,
  handler: (input: T, ctx: CommandContext) => Promise<HandlerResult>,
): RequestHandler {
  return async (req, res) => {
    const key = idempotencyKey(req);
    const input = parse(req.body);
    const scope = callerScope(req, res);
    const endpoint = `${req.method} ${req.baseUrl}${req.path}`;
    const requestHash = sha256(stringify(req.body ?? null) ?? '');
    const tenant = requestTenant(deps, res);

    const replay = async (): Promise<CommandOutcome | undefined> => {
      if (!key) return undefined;
      const stored = await findIdempotentResponse(deps.db, scope, key);
      if (!stored) return undefined;
      if (stored.endpoint && stored.endpoint !== endpoint) {
        throw conflict('This Idempotency-Key was already used on another endpoint; a key names one request', 'duplicate', 'header.Idempotency-Key');
      }
      if (stored.requestHash !== requestHash) {
        throw conflict('This Idempotency-Key was already used with a different request body', 'duplicate', 'header.Idempotency-Key');
      }
      const text = stored.response ?? JSON.stringify(stored.body);
      return { status: stored.status, body: stored.body, text, headers: { ...(stored.headers ?? {}), 'Idempotent-Replayed': 'true' } };
    };

    if (deps.queueCheck) {
      await deps.queueCheck().catch(() => {
        throw unavailable('The job queue (Redis) is unavailable; the request was not accepted');
      });
    }
    const result = await guardDatabase(async (): Promise<CommandOutcome> => {
      const earlier = await replay();
      if (earlier) return earlier;
      try {
        return await requestDb(deps, res).transaction(async (tx) => {
          if (key) await claimIdempotencyKey(tx, { scope, key, requestHash, endpoint });
          const now = (deps.now ?? (() => new Date()))();
          const out = await handler(input, {
            tx,
            params: req.params as Record<string, string>,
            now,
            baseUrl: baseUrlOf(deps),
            tenantId: tenant.id,
            tenant,
            webhookUrls: tenant.webhookUrls,
          });
          const text = JSON.stringify(out.body);
          if (key) await completeIdempotencyKey(tx, { scope, key, status: out.status, body: out.body as JsonValue, response: text, ...(out.headers ? { headers: out.headers } : {}) });
          return { ...out, text };
        });
      } catch (err) {
        // A concurrent request with the same key committed first: answer as its replay.
        if (err instanceof IdempotencyKeyTaken) {
          const winner = await replay();
          if (winner) return winner;
          throw conflict('This Idempotency-Key is in use by a request in progress; send it again', 'duplicate', 'header.Idempotency-Key');
        }
        throw err;
      }
    });
    for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
    sendText(req, res, result.status, result.text);
  };
}

function idempotencyKey(req: Request): string | undefined {
  const key = req.get('Idempotency-Key');
  if (key === undefined) return undefined;
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || /[^\x21-\x7E]/.test(key)) {
    throw badRequest(`Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} visible ASCII characters`, 'header.Idempotency-Key');
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
