import { createHash } from 'node:crypto';
import { publicBaseUrl } from '@kap/config';
import { OutcomeError, badRequest, conflict, invalidInput, unavailable, type AuditClient } from '@kap/fhir';
import {
  IdempotencyKeyTaken,
  claimIdempotencyKey,
  findIdempotentResponse,
  idempotencyCompletion,
  writeTogether,
  type TenantDb,
  type JsonValue,
  type WriteStatement,
} from '@kap/store';
import type { Request, RequestHandler, Response } from 'express';
import stringify from 'safe-stable-stringify';
import type { Resource } from '@medplum/fhirtypes';
import type { z } from 'zod';
import { auditClientOf, noteAuditReplay, noteAuditStored } from '../audit/requests';
import { auditEventOf, auditEventStatements, countWrittenInTransaction, writeAuditEvents, type AuditRecord } from '../audit/trail';
import type { AppDeps } from '../deps';
import type { Caller } from './caller';
import { sendText, type HandlerResult } from './respond';
import { requestDb } from './tenant-db';
import { requestTenant, type TenantSettings } from './tenant-settings';

export interface CommandContext {
  /** The transaction every write of the command joins, with the idempotency record; it sees only the caller's tenant. */
  readonly tx: TenantDb;
  readonly params: Readonly<Record<string, string>>;
  readonly now: Date;
  readonly baseUrl: string;
  /** That tenant's rules, follow-up timing and webhooks. */
  readonly tenant: TenantSettings;
  /** The tenant's subscribers that receive CarePlan and care-team webhooks. */
  readonly webhookUrls: readonly string[];
  /**
   * Takes writes whose results the handler needs no more and that nothing it reads after
   * depends on: they are sent with the AuditEvents and the idempotency record as one
   * statement before commit (one round trip for all).
   */
  readonly defer: (statements: readonly WriteStatement[]) => void;
}

/** The patient data a command wrote: its AuditEvents are stored in the command's transaction. */
export interface PatientDataWritten {
  readonly patientId: string;
  /** The resources as stored (their `meta.versionId` tells a create from an update). */
  readonly resources: readonly Resource[];
}

export interface CommandResult extends HandlerResult {
  /** What of a patient's data the command wrote; null for a command that writes none (operators'). */
  readonly written: PatientDataWritten | null;
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
 * never meet; one caller's key names one request across every endpoint (docs/api.md#idempotency).
 */
function callerScope(req: Request, res: Response): string {
  const principal = (res.locals as { principal?: { id?: unknown } }).principal?.id;
  if (typeof principal === 'string' && principal) return `principal:${principal}`;
  // A client's key outlives its token: a retry sent after the token was refreshed is the same request.
  const caller = (res.locals as { caller?: Caller }).caller;
  if (caller && caller.clientId !== 'unknown-client') return `client:${caller.tenantId}:${caller.clientId}`;
  const auth = req.get('Authorization');
  return auth ? `token:${sha256(auth).slice(0, 32)}` : 'anonymous';
}

interface CommandOutcome extends HandlerResult {
  /** The body exactly as sent (and as a replay sends it again). */
  readonly text: string;
  /** AuditEvents stored with the write; absent for a replay. */
  readonly audited?: number;
}

/**
 * A POST that changes state. The body is parsed at the edge; the handler runs in one
 * database transaction. With an `Idempotency-Key` the key is claimed first in that
 * transaction and its response stored last, so concurrent requests with one key give one
 * result, and a replay within 24 hours (its claim fails) returns the stored bytes and does
 * nothing again.
 * Everything runs on the caller's tenant's database, keys included: the same key in two
 * tenants names two requests.
 */
export function command<T>(
  deps: AppDeps,
  parse: Parser<T>,
  handler: (input: T, ctx: CommandContext) => Promise<CommandResult>,
): RequestHandler {
  return async (req, res) => {
    const key = idempotencyKey(req);
    const input = parse(req.body);
    const scope = callerScope(req, res);
    const endpoint = `${req.method} ${req.baseUrl}${req.path}`;
    const requestHash = sha256(stringify(req.body ?? null) ?? '');
    const tenant = requestTenant(deps, res);
    const db = requestDb(deps, res);

    const replay = async (): Promise<CommandOutcome | undefined> => {
      if (!key) return undefined;
      const stored = await findIdempotentResponse(db, scope, key);
      if (!stored) return undefined;
      if (stored.endpoint && stored.endpoint !== endpoint) {
        throw conflict(
          'This Idempotency-Key was already used on another endpoint; a key names one request',
          'duplicate',
          'header.Idempotency-Key',
        );
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
      // No look for a stored response first: on a tenant's handle that is a transaction of its
      // own (three round trips) that a new key, the common case, does not need. A key already
      // used fails its claim below, and the stored response is replayed from there.
      try {
        return await db.transaction(async (tx) => {
          if (key) await claimIdempotencyKey(tx, { scope, key, requestHash, endpoint });
          const now = (deps.now ?? (() => new Date()))();
          const last: WriteStatement[] = [];
          const { written, ...out } = await handler(input, {
            tx,
            params: req.params as Record<string, string>,
            now,
            baseUrl: baseUrlOf(deps),
            tenant,
            webhookUrls: tenant.webhookUrls,
            defer: (statements) => last.push(...statements),
          });
          const audited = written ? writeAuditRecords(written, out.status, auditClientOf(req, res), now.toISOString()) : [];
          // In the write's own transaction: the record of a write exists exactly when the write does.
          const events = audited.map((r) => auditEventOf(r, baseUrlOf(deps)));
          if (deps.config.EHR_SYNC_AUDIT && events.length > 0) {
            // Their sync reads what putResources returns: the deferred writes go first, in the order asked for.
            await writeTogether(tx, last.splice(0));
            await writeAuditEvents(tx, events, true);
          } else {
            last.push(...auditEventStatements(events));
          }
          const text = JSON.stringify(out.body);
          if (key)
            last.push(
              idempotencyCompletion({
                scope,
                key,
                status: out.status,
                body: out.body as JsonValue,
                response: text,
                ...(out.headers ? { headers: out.headers } : {}),
              }),
            );
          await writeTogether(tx, last);
          return { ...out, text, audited: audited.length };
        });
      } catch (err) {
        // The key was used before, or a concurrent request with it committed first: answer as its replay.
        if (err instanceof IdempotencyKeyTaken) {
          const winner = await replay();
          if (winner) {
            noteAuditReplay(res);
            return winner;
          }
          throw conflict('This Idempotency-Key is in use by a request in progress; send it again', 'duplicate', 'header.Idempotency-Key');
        }
        throw err;
      }
    });
    if (result.audited) {
      countWrittenInTransaction(result.audited);
      noteAuditStored(res);
    }
    for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
    sendText(req, res, result.status, result.text);
  };
}

/** A write's AuditEvents: one for what it created, one for what it updated (BALP: one subtype each). */
function writeAuditRecords(written: PatientDataWritten, status: number, client: AuditClient, recorded: string): AuditRecord[] {
  const refs = (list: readonly Resource[]): string[] => list.map((r) => `${r.resourceType}/${r.id}`);
  const created = written.resources.filter((r) => r.meta?.versionId === '1');
  const updated = written.resources.filter((r) => r.meta?.versionId !== '1');
  const base = { status, client, recorded, patientId: written.patientId };
  const records: AuditRecord[] = [];
  if (created.length > 0 || updated.length === 0) records.push({ ...base, interaction: 'create', resources: refs(created) });
  if (updated.length > 0) records.push({ ...base, interaction: 'update', resources: refs(updated) });
  return records;
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
