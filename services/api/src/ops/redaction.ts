import type { Logger } from 'pino';

/**
 * Patient data never reaches a log line, whoever logs what (docs/api.md#patient-data-in-logs: no patient data in
 * logs). Redaction sits at the logger, not at each call site: an error carries the SQL
 * parameters, a resource or a request body along with it, and a later change that logs
 * one more object must not leak. What survives is what an operator needs: the kind of
 * error, its SQLSTATE or status, a message with every quoted value removed, and the stack
 * frames (code locations, no data).
 */

/** Keys whose values are, or may hold, patient data, request bodies or SQL values. */
const REDACTED_KEYS = new Set(
  [
    'patient',
    'name',
    'family',
    'given',
    'birthDate',
    'gender',
    'identifier',
    'mrn',
    'telecom',
    'address',
    'subject',
    'display',
    'text',
    'note',
    'reviewer',
    'description',
    'body',
    'rawBody',
    'resource',
    'resources',
    'entry',
    'params',
    'parameters',
    'values',
    'value',
    'query',
    'sql',
    'detail',
    'where',
    'hint',
    'internalQuery',
    'headers',
    'authorization',
    'cookie',
    // Credentials, whoever logs them: bearer tokens, client secrets and assertions.
    'token',
    'access_token',
    'id_token',
    'refresh_token',
    'client_secret',
    'client_assertion',
    'password',
    'secret',
  ].map((k) => k.toLowerCase()),
);

const MAX_DEPTH = 6;
/** Top-level keys a serializer of their own reduces (pino-http's `req` and `res`). */
const SERIALIZED_KEYS = new Set(['req', 'res']);
const MAX_MESSAGE = 300;

/** A message with quoted values, key details (`(a, b)=(x, y)`) and JSON snippets removed. */
export function scrubMessage(message: string): string {
  return message
    .replace(/"(?:[^"\\]|\\.)*"/g, '"…"')
    .replace(/'(?:[^'\\]|\\.)*'/g, "'…'")
    .replace(/`[^`]*`/g, '`…`')
    .replace(/\((?:[^()]*)\)=\((?:[^()]*)\)/g, '(…)=(…)')
    .replace(/[{[][\s\S]*[}\]]/g, '…')
    .slice(0, MAX_MESSAGE);
}

/** Stack frames only: the first line of a stack repeats the message, which may hold data. */
function framesOf(stack: string | undefined): string | undefined {
  if (!stack) return undefined;
  const frames = stack
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .slice(0, 12);
  return frames.length > 0 ? frames.join('\n') : undefined;
}

export interface SafeError {
  type: string;
  message: string;
  code?: string;
  status?: number;
  stack?: string;
  cause?: SafeError;
}

/** What safeError made, so making it safe twice (a call site and the serializer) keeps it. */
const SAFE = new WeakSet<object>();

/** An error as it may be logged: no parameters, no detail, no quoted value, no body. */
export function safeError(err: unknown, depth = 0): SafeError {
  if (typeof err === 'object' && err !== null && SAFE.has(err)) return err as SafeError;
  const safe = unsafeToSafe(err, depth);
  SAFE.add(safe);
  return safe;
}

/** A database driver's error (pg, PGlite): it has a SQLSTATE and may carry the statement and its values. */
const isDriverError = (e: Record<string, unknown>): boolean =>
  (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) || 'parameters' in e || 'detail' in e || 'where' in e || 'query' in e;

/** Schema names a driver error may give: they say where, never what. */
const SCHEMA_NAMES = ['routine', 'table', 'column', 'constraint', 'dataType'] as const;

function unsafeToSafe(err: unknown, depth: number): SafeError {
  if (!(err instanceof Error)) return { type: typeof err, message: typeof err === 'string' ? scrubMessage(err) : '(not an Error)' };
  const e = err as Error & Record<string, unknown>;
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const driver = isDriverError(e);
  // A driver's message may quote the very values it refused, quoted or not: only its SQLSTATE and schema names are kept.
  const where = driver
    ? SCHEMA_NAMES.filter((k) => typeof e[k] === 'string' && /^[\w.]{1,63}$/.test(e[k] as string)).map((k) => `${k} ${e[k] as string}`)
    : [];
  const message = driver ? ['database error', ...where].join('; ') : scrubMessage(e.message ?? '');
  return {
    type: e.name,
    message,
    ...(typeof e.code === 'string' || typeof e.code === 'number' ? { code: String(e.code).slice(0, 40) } : {}),
    ...(status !== undefined ? { status } : {}),
    ...(framesOf(e.stack) ? { stack: framesOf(e.stack) } : {}),
    ...(e.cause !== undefined && depth < 3 ? { cause: safeError(e.cause, depth + 1) } : {}),
  };
}

/** A copy of a log object with patient-data keys replaced and errors made safe. */
export function redactFields(value: unknown, depth = 0): unknown {
  if (value instanceof Error) return safeError(value);
  if (value === null || typeof value !== 'object') return value;
  if (SAFE.has(value)) return value;
  if (depth >= MAX_DEPTH) return '[nested]';
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => redactFields(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (REDACTED_KEYS.has(key.toLowerCase())) out[key] = '[redacted]';
    // The request and response of a request log line: their serializers (ops/logging.ts) keep method, path and status only.
    else if (depth === 0 && SERIALIZED_KEYS.has(key)) out[key] = v;
    else out[key] = redactFields(v, depth + 1);
  }
  return out;
}

/** Serializers for every logger the API writes with. */
export const SAFE_SERIALIZERS = { err: (e: unknown) => safeError(e), error: (e: unknown) => safeError(e) };

/**
 * The API's logger: `logger` with the redaction above applied to every line it, or any
 * child of it, writes. Applied in createApp, so it holds whatever logger a caller passes.
 */
export function redactingLogger(logger: Logger): Logger {
  return logger.child({}, { serializers: SAFE_SERIALIZERS, formatters: { log: (obj) => redactFields(obj) as Record<string, unknown> } });
}
