import createFetchClient, { type Client } from 'openapi-fetch';
import { OPERATIONS } from './generated/operations';
import type { components, operations, paths } from './generated/schema';

export type { components, operations, paths };

/** The bearer token: a fixed one, or a function asked before every request (a token cache that refreshes, say). */
export type TokenSource = string | (() => string | undefined | Promise<string | undefined>);

export interface KapClientOptions {
  /** Where the service answers, for example `https://kap.hospital.example` (no `/v1`). */
  readonly baseUrl: string;
  /** With AUTH_MODE=jwt, the JWT to send as `Authorization: Bearer …`; none with AUTH_MODE=none. */
  readonly token?: TokenSource;
  /** Makes the `Idempotency-Key` of a POST that names none; a random UUID by default. */
  readonly idempotencyKey?: () => string;
  /** Headers sent with every request (a correlation id, say). */
  readonly headers?: Readonly<Record<string, string>>;
  /** The fetch to use; the global one by default. */
  readonly fetch?: typeof globalThis.fetch;
}

/** Per call: the `Idempotency-Key` (to retry a POST whose answer was lost, pass the key it used) and an abort signal. */
export interface CallOptions {
  readonly idempotencyKey?: string;
  readonly signal?: AbortSignal;
}

/** An issue of an OperationOutcome: `expression` names the field at fault, `diagnostics` says what is wrong. */
export interface OperationOutcomeIssue {
  readonly severity: 'fatal' | 'error' | 'warning' | 'information';
  readonly code: string;
  readonly diagnostics?: string;
  readonly expression?: readonly string[];
}

/** A FHIR R4 OperationOutcome, the body of every error the service answers (http://hl7.org/fhir/R4/operationoutcome.html). */
export interface OperationOutcome {
  readonly resourceType: 'OperationOutcome';
  readonly issue: readonly OperationOutcomeIssue[];
}

/**
 * An answer other than 2xx. `outcome` is the service's OperationOutcome (every error is one;
 * `/ready`'s 503 is its readiness report, in `body`). `idempotencyKey` is the key the POST
 * was sent with: retrying with it is safe, the service runs a request once.
 */
export class KapApiError extends Error {
  override name = 'KapApiError';
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly body: unknown,
    readonly idempotencyKey: string | undefined,
  ) {
    super(`${method.toUpperCase()} ${path} answered ${status}: ${describe(body)}`);
  }

  /** The OperationOutcome of the answer, when it is one. */
  get outcome(): OperationOutcome | undefined {
    return isOutcome(this.body) ? this.body : undefined;
  }
}

/** The request never got an answer (refused, reset, aborted): it may or may not have run, so retry a POST with `idempotencyKey`. */
export class KapNetworkError extends Error {
  override name = 'KapNetworkError';
  constructor(
    readonly method: string,
    readonly path: string,
    readonly idempotencyKey: string | undefined,
    options: { cause: unknown },
  ) {
    super(
      `${method.toUpperCase()} ${path} got no answer: ${options.cause instanceof Error ? options.cause.message : String(options.cause)}`,
      options,
    );
  }
}

type OperationId = keyof typeof OPERATIONS;

type Json<T> = T extends { content: infer C } ? ('application/json' extends keyof C ? C['application/json'] : C[keyof C]) : never;
type Success<O> = O extends { responses: infer R } ? Json<R[Extract<keyof R, 200 | 201 | 202>]> : never;
type Body<O> = O extends { requestBody: infer B }
  ? Json<B>
  : O extends { requestBody?: infer B }
    ? [B] extends [undefined]
      ? never
      : Json<NonNullable<B>>
    : never;
type PathOf<O> = O extends { parameters: { path: infer P } } ? ([P] extends [never] ? never : P) : never;
type QueryOf<O> = O extends { parameters: { query?: infer Q } } ? ([Q] extends [never | undefined] ? never : NonNullable<Q>) : never;

type BodyRequired<O> = O extends { requestBody: unknown } ? true : false;

/** What one operation takes: its path parameters, query and body, each only where the operation has one. */
export type OperationArgs<K extends OperationId> = ([PathOf<operations[K]>] extends [never] ? unknown : { path: PathOf<operations[K]> }) &
  ([QueryOf<operations[K]>] extends [never] ? unknown : { query?: QueryOf<operations[K]> }) &
  ([Body<operations[K]>] extends [never]
    ? unknown
    : BodyRequired<operations[K]> extends true
      ? { body: Body<operations[K]> }
      : { body?: Body<operations[K]> });

/** What one operation answers on success. */
export type OperationResult<K extends OperationId> = Success<operations[K]>;

type NeedsArgs<K extends OperationId> = [PathOf<operations[K]>] extends [never] ? BodyRequired<operations[K]> : true;

/** One method per operation of the OpenAPI document, named by its operationId. */
export type KapOperations = {
  [K in OperationId]: NeedsArgs<K> extends true
    ? (args: OperationArgs<K>, options?: CallOptions) => Promise<OperationResult<K>>
    : (args?: OperationArgs<K>, options?: CallOptions) => Promise<OperationResult<K>>;
};

export type KapClient = KapOperations & {
  /**
   * The underlying openapi-fetch client (typed by path, with the same token and Idempotency-Key handling), for what the methods do not
   * cover.
   */
  readonly raw: Client<paths>;
};

/**
 * A client for the KAP FHIR adapter's API. Every method resolves with the success body and
 * rejects with a `KapApiError` (carrying the OperationOutcome) or a `KapNetworkError`.
 * Every POST carries an `Idempotency-Key`, made per call unless given.
 */
export function createKapClient(options: KapClientOptions): KapClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const raw = createFetchClient<paths>({
    baseUrl,
    ...(options.headers ? { headers: { ...options.headers } } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  // Web Crypto, not node:crypto: the client runs in browsers too (the course page bundles it).
  const newKey = options.idempotencyKey ?? (() => globalThis.crypto.randomUUID());
  // On every request, the methods' and `raw`'s alike: the token, and a POST's key unless it names one.
  raw.use({
    async onRequest({ request }) {
      const token = typeof options.token === 'function' ? await options.token() : options.token;
      if (token && !request.headers.has('Authorization')) request.headers.set('Authorization', `Bearer ${token}`);
      if (request.method === 'POST' && !request.headers.has('Idempotency-Key')) request.headers.set('Idempotency-Key', newKey());
      return request;
    },
  });

  const call = async (
    id: OperationId,
    args: { path?: object; query?: object; body?: unknown } = {},
    callOptions: CallOptions = {},
  ): Promise<unknown> => {
    const { method, path, parseAs } = OPERATIONS[id];
    const key = method === 'post' ? (callOptions.idempotencyKey ?? newKey()) : undefined;
    const headers: Record<string, string> = parseAs === 'json' ? { Accept: 'application/json' } : {};
    if (key) headers['Idempotency-Key'] = key;
    let answer: { data?: unknown; error?: unknown; response: Response };
    try {
      // The operation table and the generated types come from one document; the cast only joins them.
      answer = await (raw.request as (m: string, p: string, init: object) => Promise<typeof answer>)(method, path, {
        params: { path: args.path, query: args.query },
        ...(args.body === undefined ? {} : { body: args.body }),
        headers,
        parseAs,
        signal: callOptions.signal,
      });
    } catch (err) {
      throw new KapNetworkError(method, path, key, { cause: err });
    }
    if (!answer.response.ok) throw new KapApiError(answer.response.status, method, fill(path, args.path), answer.error, key);
    return answer.data;
  };

  const client = { raw } as Record<string, unknown>;
  for (const id of Object.keys(OPERATIONS) as OperationId[]) {
    client[id] = (args?: { path?: object; query?: object; body?: unknown }, callOptions?: CallOptions) => call(id, args, callOptions);
  }
  return client as KapClient;
}

function fill(path: string, params: object | undefined): string {
  return path.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = (params as Record<string, unknown> | undefined)?.[name];
    return value === undefined ? whole : encodeURIComponent(String(value));
  });
}

function isOutcome(body: unknown): body is OperationOutcome {
  return typeof body === 'object' && body !== null && (body as { resourceType?: unknown }).resourceType === 'OperationOutcome';
}

function describe(body: unknown): string {
  if (!isOutcome(body)) return typeof body === 'string' ? body : JSON.stringify(body);
  return (body.issue ?? [])
    .map((i) => [i.diagnostics ?? i.code, i.expression?.length ? `(${i.expression.join(', ')})` : ''].filter(Boolean).join(' '))
    .join('; ');
}
