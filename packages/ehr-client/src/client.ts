import type { Bundle, CapabilityStatement, ExtractResource, Resource, ResourceType } from '@medplum/fhirtypes';
import { createTokenProvider, type EhrAuth, type TokenGrant, type TokenProvider } from './auth';
import { readCapabilities, type EhrCapabilities } from './capabilities';
import { formatScopes, scopeStyleFor, type ScopeNeeds } from './scopes';
import { EhrError } from './errors';
import { createFhirSend, type FhirReply } from './http';
import { chunkIdentifierTokens, type IdentifierKey } from './identifiers';
import { asResource, isRecord } from './reply';

/**
 * A FHIR R4 REST client for one hospital EHR. It uses only interactions every conformant
 * server supports (read, update, search, transaction, capabilities) and treats version
 * ids and ETags as opaque strings. It never retries by itself, except once after a 401:
 * failures reject with an {@link EhrError} whose `kind` tells the job queue what to do.
 * @see http://hl7.org/fhir/R4/http.html
 */
export interface EhrClient {
  /**
   * Reads one resource; `undefined` when the server says 404 or 410 (deleted).
   * @see http://hl7.org/fhir/R4/http.html#read
   */
  read<K extends ResourceType>(type: K, id: string): Promise<ReadResult<ExtractResource<K>> | undefined>;
  /**
   * Updates a resource by id. Pass the ETag from {@link EhrClient.read} as `ifMatch` so a
   * concurrent change fails with `precondition-failed` instead of being overwritten.
   * @see http://hl7.org/fhir/R4/http.html#update
   * @see http://hl7.org/fhir/R4/http.html#concurrency
   */
  update<T extends Resource>(resource: T, options?: { readonly ifMatch?: string }): Promise<WriteResult<T>>;
  /**
   * One page of search results, as the server returned it; paging is not followed.
   * @see http://hl7.org/fhir/R4/http.html#search
   */
  search<K extends ResourceType>(type: K, params: SearchParams): Promise<Bundle<ExtractResource<K>>>;
  /**
   * All matches of a search, following `next` links for at most `maxPages` pages
   * (default 10). Rejects with `rejected` rather than returning a silently partial list.
   * @see http://hl7.org/fhir/R4/http.html#paging
   */
  searchAll<K extends ResourceType>(type: K, params: SearchParams, options?: { readonly maxPages?: number }): Promise<ExtractResource<K>[]>;
  /**
   * The resources of `type` carrying any of these identifiers, found with comma-OR
   * `identifier` searches chunked so request URLs stay short.
   * @see http://hl7.org/fhir/R4/search.html#token
   */
  findByIdentifiers<K extends ResourceType>(type: K, identifiers: readonly IdentifierKey[]): Promise<ExtractResource<K>[]>;
  /**
   * Posts a transaction Bundle to the base URL and returns the transaction-response,
   * whose entries answer the request entries in order.
   * @see http://hl7.org/fhir/R4/http.html#transaction
   */
  transaction(bundle: Bundle): Promise<Bundle>;
  /**
   * Posts a batch Bundle: each entry succeeds or fails on its own, answered in order.
   * @see http://hl7.org/fhir/R4/http.html#transaction
   */
  batch(bundle: Bundle): Promise<Bundle>;
  /**
   * Creates a resource; with `ifNoneExist`, a conditional create that answers 200 with the
   * match instead of creating a second one (then `created` is false).
   * @see http://hl7.org/fhir/R4/http.html#ccreate
   */
  create<T extends Resource>(
    resource: T,
    options?: { readonly ifNoneExist?: string },
  ): Promise<WriteResult<T> & { readonly created: boolean }>;
  /**
   * The server's CapabilityStatement (`GET [base]/metadata`), for readiness probes.
   * @see http://hl7.org/fhir/R4/http.html#capabilities
   */
  capabilities(): Promise<CapabilityStatement>;
  /** The scopes asked for and granted with the current token, once one was issued. */
  tokenGrant(): TokenGrant | undefined;
  /**
   * The scope string this client asks for: `EHR_SCOPE` when configured, else derived
   * from the adapter's needs and the EHR's CapabilityStatement and SMART configuration.
   */
  requestedScope(): Promise<string | undefined>;
}

/** Search parameters; a list value repeats the parameter (AND), as in `date=ge..&date=le..`. */
export type SearchParams = Readonly<Record<string, string | readonly string[]>>;

export interface ReadResult<T extends Resource> {
  readonly resource: T;
  /** The ETag as sent (e.g. `W/"3"`), opaque; give it back as `If-Match`. */
  readonly etag?: string;
}

export interface WriteResult<T extends Resource> {
  /** The stored resource, when the server returned it (servers may honour `return=minimal`). */
  readonly resource?: T;
  readonly etag?: string;
  readonly location?: string;
}

export interface EhrClientOptions {
  /** The FHIR base URL, e.g. `https://ehr.example.org/fhir/R4`. */
  readonly baseUrl: string;
  readonly auth: EhrAuth;
  /** Per-request timeout (token requests included). */
  readonly timeoutMs: number;
  readonly userAgent?: string;
  readonly fetch?: typeof fetch;
  /** Clock for token renewal and `Retry-After` dates; inject for tests. */
  readonly now?: () => number;
  /** Replaces the token provider built from `auth`, e.g. to share one between clients. */
  readonly tokens?: TokenProvider;
  /**
   * What the adapter needs of the EHR, per type and interaction, given its capabilities
   * (`undefined` when the CapabilityStatement cannot be read without a token). Without
   * it, and without a configured scope, the token request names no scope and the server
   * grants its default.
   */
  readonly scopeNeeds?: (capabilities: EhrCapabilities | undefined) => ScopeNeeds;
  /** Told of each token granted (asked and granted scopes), e.g. to log a shortfall. */
  readonly onGrant?: (grant: TokenGrant) => void;
}

const DEFAULT_MAX_PAGES = 10;

/** Creates a client; nothing is sent until the first call. */
export function createEhrClient(options: EhrClientOptions): EhrClient {
  const base = normalizeBaseUrl(options.baseUrl);
  const fetchImpl = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  // Anonymous requests never ask for a token, so deriving the scope cannot wait on itself.
  const anonymousSend = createFhirSend({
    tokens: createTokenProvider({ mode: 'none' }),
    timeoutMs: options.timeoutMs,
    fetch: fetchImpl,
    now,
    ...(options.userAgent ? { userAgent: options.userAgent } : {}),
  });
  const anonymousGet = async (url: string): Promise<unknown> => {
    try {
      return (await anonymousSend({ method: 'GET', url, what: `read ${url}`, anonymous: true })).body;
    } catch {
      return undefined;
    }
  };
  const derivedScope = options.scopeNeeds
    ? async (): Promise<string | undefined> => {
        const needs = options.scopeNeeds as NonNullable<typeof options.scopeNeeds>;
        const [statement, smart] = await Promise.all([
          anonymousGet(`${base}/metadata`),
          anonymousGet(`${base}/.well-known/smart-configuration`),
        ]);
        const capabilityStatement = asResource(statement, 'CapabilityStatement');
        const scope = formatScopes(needs(capabilityStatement ? readCapabilities(capabilityStatement) : undefined), scopeStyleFor(smart));
        return scope || undefined;
      }
    : undefined;
  const configuredScope = 'scope' in options.auth ? options.auth.scope : undefined;
  const tokens =
    options.tokens ??
    createTokenProvider(options.auth, {
      fetch: fetchImpl,
      timeoutMs: options.timeoutMs,
      now,
      ...(options.userAgent ? { userAgent: options.userAgent } : {}),
      ...(derivedScope ? { scope: derivedScope } : {}),
      ...(options.onGrant ? { onGrant: options.onGrant } : {}),
    });
  const send = createFhirSend({
    tokens,
    timeoutMs: options.timeoutMs,
    fetch: fetchImpl,
    now,
    ...(options.userAgent ? { userAgent: options.userAgent } : {}),
  });

  const getSearchset = async <K extends ResourceType>(url: string, type: K, what: string): Promise<Bundle<ExtractResource<K>>> => {
    const reply = await send({ method: 'GET', url, what, access: { type, interaction: 's' } });
    const bundle = asResource(reply.body, 'Bundle');
    if (!bundle || bundle.type !== 'searchset') throw unexpected(what, reply, 'a searchset Bundle');
    return bundle as Bundle<ExtractResource<K>>;
  };

  const searchAll = async <K extends ResourceType>(
    type: K,
    params: SearchParams,
    opts: { readonly maxPages?: number } = {},
  ): Promise<ExtractResource<K>[]> => {
    const maxPages = opts.maxPages ?? DEFAULT_MAX_PAGES;
    const found: ExtractResource<K>[] = [];
    let url: string | undefined = `${base}/${type}${queryString(params)}`;
    for (let page = 1; url !== undefined; page++) {
      if (page > maxPages) {
        throw new EhrError('rejected', `EHR search ${type} has more than ${maxPages} pages; narrow the search`);
      }
      const bundle: Bundle<ExtractResource<K>> = await getSearchset(url, type, `search ${type} (page ${page})`);
      found.push(...matches(bundle, type));
      url = nextLink(bundle, base);
    }
    return found;
  };

  const postBundle = async (bundle: Bundle, type: 'transaction' | 'batch'): Promise<Bundle> => {
    if (bundle.type !== type) {
      throw new EhrError('rejected', `Expected a ${type} Bundle, got type ${String(bundle.type)}`);
    }
    const what = type;
    const reply = await send({ method: 'POST', url: base, body: bundle, what });
    const response = asResource(reply.body, 'Bundle');
    if (!response || response.type !== `${type}-response`) throw unexpected(what, reply, `a ${type}-response Bundle`);
    const sent = bundle.entry?.length ?? 0;
    const answered = response.entry?.length ?? 0;
    // The response must answer every request entry, in order (R4 http.html#transaction-response).
    if (answered !== sent || !(response.entry ?? []).every((e) => isRecord(e.response) && typeof e.response.status === 'string')) {
      throw unexpected(what, reply, `a response with ${sent} entries each carrying response.status`);
    }
    return response;
  };

  return {
    read: async (type, id) => {
      const what = `read ${type}/${id}`;
      let reply: FhirReply;
      try {
        reply = await send({ method: 'GET', url: `${base}/${type}/${encodeURIComponent(id)}`, what, access: { type, interaction: 'r' } });
      } catch (error) {
        if (error instanceof EhrError && error.kind === 'not-found') return undefined;
        throw error;
      }
      const resource = asResource(reply.body, type);
      if (!resource) throw unexpected(what, reply, `a ${type}`);
      const etag = etagOf(reply, resource);
      return etag === undefined ? { resource } : { resource, etag };
    },

    update: async <T extends Resource>(resource: T, opts: { readonly ifMatch?: string } = {}): Promise<WriteResult<T>> => {
      if (!resource.id) throw new EhrError('rejected', `Cannot update a ${resource.resourceType} without an id`);
      const what = `update ${resource.resourceType}/${resource.id}`;
      const reply = await send({
        method: 'PUT',
        url: `${base}/${resource.resourceType}/${encodeURIComponent(resource.id)}`,
        body: resource,
        headers: opts.ifMatch ? { 'If-Match': opts.ifMatch } : {},
        what,
        access: { type: resource.resourceType, interaction: 'u' },
      });
      const stored = reply.body === undefined ? undefined : asResource(reply.body, resource.resourceType);
      // An OperationOutcome (or nothing) is a valid success body under Prefer: return=minimal/OperationOutcome.
      const written = stored as T | undefined;
      const etag = etagOf(reply, written);
      const location = reply.headers.get('location') ?? reply.headers.get('content-location') ?? undefined;
      return {
        ...(written ? { resource: written } : {}),
        ...(etag === undefined ? {} : { etag }),
        ...(location ? { location } : {}),
      };
    },

    search: (type, params) => getSearchset(`${base}/${type}${queryString(params)}`, type, `search ${type}`),

    searchAll,

    findByIdentifiers: async (type, identifiers) => {
      const byId = new Map<string, ExtractResource<typeof type>>();
      for (const chunk of chunkIdentifierTokens(identifiers)) {
        // _count covers one match per identifier on the first page; more pages are followed.
        const found = await searchAll(type, { identifier: chunk.join(','), _count: String(Math.max(chunk.length, 10)) });
        for (const resource of found) byId.set(resource.id ?? `#${byId.size}`, resource);
      }
      return [...byId.values()];
    },

    transaction: (bundle) => postBundle(bundle, 'transaction'),

    batch: (bundle) => postBundle(bundle, 'batch'),

    create: async <T extends Resource>(resource: T, opts: { readonly ifNoneExist?: string } = {}) => {
      const what = `create ${resource.resourceType}`;
      const reply = await send({
        method: 'POST',
        url: `${base}/${resource.resourceType}`,
        body: resource,
        headers: opts.ifNoneExist ? { 'If-None-Exist': opts.ifNoneExist } : {},
        what,
        access: { type: resource.resourceType, interaction: 'c' },
      });
      const written = reply.body === undefined ? undefined : (asResource(reply.body, resource.resourceType) as T | undefined);
      const etag = etagOf(reply, written);
      const location = reply.headers.get('location') ?? reply.headers.get('content-location') ?? undefined;
      if (!location && !written?.id) throw unexpected(what, reply, `a ${resource.resourceType} or a Location header`);
      return {
        created: reply.status === 201,
        ...(written ? { resource: written } : {}),
        ...(etag === undefined ? {} : { etag }),
        ...(location ? { location } : {}),
      };
    },

    capabilities: async () => {
      const what = 'capabilities';
      const reply = await send({ method: 'GET', url: `${base}/metadata`, what });
      const statement = asResource(reply.body, 'CapabilityStatement');
      if (!statement) throw unexpected(what, reply, 'a CapabilityStatement');
      return statement;
    },

    tokenGrant: () => tokens.grant(),

    requestedScope: async () =>
      configuredScope ?? (options.auth.mode === 'none' || options.auth.mode === 'bearer' ? undefined : await derivedScope?.()),
  };
}

function normalizeBaseUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch (cause) {
    throw new EhrError('rejected', `EHR base URL is not a URL: ${baseUrl}`, { cause });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new EhrError('rejected', `EHR base URL must be http(s): ${baseUrl}`);
  }
  if (url.search || url.hash) throw new EhrError('rejected', `EHR base URL must not have a query or fragment: ${baseUrl}`);
  return url.toString().replace(/\/+$/, '');
}

function queryString(params: SearchParams): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const v of typeof value === 'string' ? [value] : value) query.append(name, v);
  }
  const text = query.toString();
  return text ? `?${text}` : '';
}

/** Entries that matched (not `_include`d resources or outcome warnings) of the searched type. */
function matches<K extends ResourceType>(bundle: Bundle<ExtractResource<K>>, type: K): ExtractResource<K>[] {
  return (bundle.entry ?? [])
    .filter((e) => e.search?.mode === undefined || e.search.mode === 'match')
    .map((e) => asResource(e.resource, type))
    .filter((r): r is ExtractResource<K> => r !== undefined);
}

/**
 * The `next` link, if any. Only links on the configured server are followed: the request
 * carries our access token, and a link to another origin (often an internal hostname
 * leaking through a proxy) must not receive it.
 */
function nextLink(bundle: Bundle, base: string): string | undefined {
  const next = bundle.link?.find((l) => l.relation === 'next')?.url;
  if (!next) return undefined;
  let url: URL;
  try {
    url = new URL(next, `${base}/`);
  } catch (cause) {
    throw new EhrError('rejected', `EHR search returned an invalid next link: ${next}`, { cause });
  }
  if (url.origin !== new URL(base).origin) {
    throw new EhrError('rejected', `EHR search next link ${url.origin} is not on the configured server ${new URL(base).origin}`);
  }
  return url.toString();
}

/**
 * The version tag for `If-Match`: the ETag header when sent, else built from
 * `meta.versionId` as R4 defines ETag (`W/"versionId"`). Never parsed or compared.
 * @see http://hl7.org/fhir/R4/http.html#versioning
 */
function etagOf(reply: FhirReply, resource: Resource | undefined): string | undefined {
  const header = reply.headers.get('etag');
  if (header) return header;
  const versionId = resource?.meta?.versionId;
  return versionId ? `W/"${versionId}"` : undefined;
}

function unexpected(what: string, reply: FhirReply, expected: string): EhrError {
  const got = isRecord(reply.body) && typeof reply.body['resourceType'] === 'string' ? reply.body['resourceType'] : typeof reply.body;
  // A 2xx with the wrong content is a server or proxy fault, not our request's; retrying is safe
  // because every write is conditional.
  return new EhrError('retryable', `EHR ${what} answered ${reply.status} with ${got} instead of ${expected}`, { status: reply.status });
}
