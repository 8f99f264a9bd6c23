import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { SearchRequest, WithId } from '@medplum/core';
import {
  badRequest,
  deepClone,
  generateId,
  gone,
  matchesSearchRequest,
  notFound,
  OperationOutcomeError,
  Operator,
  preconditionFailed,
  validateResource,
} from '@medplum/core';
import type { CreateResourceOptions, ReadHistoryOptions, UpdateResourceOptions } from '@medplum/fhir-router';
import { FhirRepository, RepositoryMode } from '@medplum/fhir-router';
import type { Bundle, BundleEntry, OperationOutcomeIssue, Reference, Resource } from '@medplum/fhirtypes';
import type { Operation } from 'rfc6902';
import { applyPatch } from 'rfc6902';
import { unprocessable } from '../fhir/outcomes';
import type { ProfileValidationMode } from '../fhir/policy';
import { validateClaimedProfiles } from '../fhir/profile-validation';
import { danglingReferences } from './references';
import { compareBySortRules, prepareSearch } from './search';
import type { Journal, ResourceVersion } from './versioned-store';
import { tokenPrefilter } from './token-prefilter';
import { VersionedStore } from './versioned-store';

/** Options for {@link SandboxRepository}. */
export interface SandboxRepositoryOptions {
  /** Reject writes whose relative references point nowhere (default true). */
  readonly referentialIntegrity?: boolean;
  /** Clock for `meta.lastUpdated`; tests may freeze it. */
  readonly now?: () => Date;
  /** How profiles claimed in `meta.profile` are validated; default `medplum-5.0.10`. */
  readonly profileValidation?: ProfileValidationMode;
  /** Told of every resource version once it is committed (never of one rolled back). */
  readonly onCommitted?: (resources: readonly Resource[]) => void;
}

/**
 * The sandbox's FHIR repository. It extends Medplum's abstract `FhirRepository`, so Medplum's
 * FhirRouter, batch processor and conditional create/update/delete logic run unchanged on top
 * of it. It replaces Medplum's `MemoryRepository` because that one cannot be made correct from
 * outside: its `withTransaction` is a no-op, its storage is private (no snapshot), `readHistory`
 * reverses the stored history array in place on every call, deletes leave no version, and it
 * keeps client-supplied `id`/`meta.versionId` on create.
 * @see http://hl7.org/fhir/R4/http.html
 */
export class SandboxRepository extends FhirRepository<undefined> {
  private readonly store = new VersionedStore();
  private readonly referentialIntegrity: boolean;
  private readonly now: () => Date;
  private readonly profileValidation: ProfileValidationMode;
  /**
   * The open transaction of the current async context: what it appended (for rollback) and
   * what it wrote (checked for dangling references at commit, and announced once committed). Per context, not per
   * repository, because requests of different identities run concurrently.
   */
  private readonly transaction = new AsyncLocalStorage<{ journal: Journal; written: Resource[]; committed: Resource[] }>();
  private readonly onCommitted: ((resources: readonly Resource[]) => void) | undefined;

  constructor(options: SandboxRepositoryOptions = {}) {
    super();
    this.onCommitted = options.onCommitted;
    this.referentialIntegrity = options.referentialIntegrity ?? true;
    this.now = options.now ?? (() => new Date());
    this.profileValidation = options.profileValidation ?? 'medplum-5.0.10';
  }

  setMode(_mode: RepositoryMode): void {
    // One store serves reads and writes.
  }

  generateId(): string {
    return generateId();
  }

  /** Deletes every resource and its history. */
  clear(): void {
    this.store.clear();
  }

  /** Live resources per type, for the admin stats endpoint. */
  counts(): Record<string, number> {
    return this.store.counts();
  }

  /** Current versions of one type, for the rest-hook dispatcher (no search semantics needed there). */
  live<T extends Resource>(resourceType: T['resourceType']): T[] {
    return [...this.store.live(resourceType)].map((r) => deepClone(r) as T);
  }

  /** True when the resource exists and its current version is not a delete. */
  exists(resourceType: string, id: string): boolean {
    return this.store.current(resourceType, id) !== undefined;
  }

  /**
   * Ignores a client-supplied id unless the batch processor assigned it, as R4 requires.
   * @see http://hl7.org/fhir/R4/http.html#create
   */
  async createResource<T extends Resource>(resource: T, options?: CreateResourceOptions): Promise<WithId<T>> {
    const id = options?.assignedId && resource.id ? resource.id : this.generateId();
    return this.write({ ...resource, id });
  }

  /**
   * Update, or create with the client's id when absent ("update as create").
   * `ifMatch` is a bare version id; a missing resource fails the precondition, as in RFC 7232.
   * @see http://hl7.org/fhir/R4/http.html#update
   * @see http://hl7.org/fhir/R4/http.html#concurrency
   */
  async updateResource<T extends Resource>(resource: T, options?: UpdateResourceOptions): Promise<WithId<T>> {
    if (!resource.id) {
      throw new OperationOutcomeError(badRequest('Missing id', `${resource.resourceType}.id`));
    }
    if (options?.ifMatch !== undefined) {
      const current = this.store.current(resource.resourceType, resource.id);
      if (current?.meta?.versionId !== options.ifMatch) {
        throw new OperationOutcomeError(preconditionFailed);
      }
    }
    return this.write(resource as WithId<T>);
  }

  async deleteResource(resourceType: string, id: string): Promise<void> {
    if (!this.exists(resourceType, id)) {
      throw new OperationOutcomeError(notFound);
    }
    this.store.append(
      resourceType,
      id,
      { versionId: this.nextVersionId(resourceType, id), lastUpdated: this.now().toISOString() },
      this.transaction.getStore()?.journal,
    );
  }

  async patchResource<T extends Resource>(resourceType: T['resourceType'], id: string, patch: Operation[]): Promise<WithId<T>> {
    const resource = await this.readResource<T>(resourceType, id);
    const errors = applyPatch(resource, patch).filter((e) => e !== null);
    if (errors.length > 0) {
      throw new OperationOutcomeError(badRequest(errors.map((e) => e.message).join('\n')));
    }
    return this.write(resource);
  }

  /**
   * A deleted resource reads as 410 Gone, an unknown one as 404.
   * @see http://hl7.org/fhir/R4/http.html#read
   */
  async readResource<T extends Resource>(resourceType: string, id: string): Promise<WithId<T>> {
    const record = this.store.get(resourceType, id);
    if (!record) {
      throw new OperationOutcomeError(notFound);
    }
    const current = record.versions.at(-1)?.resource;
    if (!current) {
      throw new OperationOutcomeError(gone);
    }
    return deepClone(current) as WithId<T>;
  }

  async readReference<T extends Resource>(reference: Reference<T>): Promise<WithId<T>> {
    const [resourceType, id, ...rest] = reference.reference?.split('/') ?? [];
    if (!resourceType || !id || rest.length > 0) {
      throw new OperationOutcomeError(badRequest('Invalid reference'));
    }
    return this.readResource<T>(resourceType, id);
  }

  async readReferences<T extends Resource>(references: readonly Reference<T>[]): Promise<(T | Error)[]> {
    return Promise.all(references.map((r) => this.readReference(r).catch((err: Error) => err)));
  }

  /**
   * Newest version first; delete versions appear as entries without a resource.
   * @see http://hl7.org/fhir/R4/http.html#history
   */
  async readHistory<T extends Resource>(resourceType: string, id: string, options?: ReadHistoryOptions): Promise<Bundle<WithId<T>>> {
    const record = this.store.get(resourceType, id);
    if (!record) {
      throw new OperationOutcomeError(notFound);
    }
    const offset = options?.offset ?? 0;
    const versions = [...record.versions].reverse();
    const page = versions.slice(offset, options?.limit === undefined ? undefined : offset + options.limit);
    return {
      resourceType: 'Bundle',
      type: 'history',
      total: versions.length,
      // FHIR JSON forbids empty arrays.
      ...(page.length ? { entry: page.map((v) => historyEntry<T>(resourceType, id, v, v === record.versions[0])) } : {}),
    };
  }

  /** @see http://hl7.org/fhir/R4/http.html#vread */
  async readVersion<T extends Resource>(resourceType: string, id: string, vid: string): Promise<WithId<T>> {
    const version = this.store.get(resourceType, id)?.versions.find((v) => v.versionId === vid);
    if (!version) {
      throw new OperationOutcomeError(notFound);
    }
    if (!version.resource) {
      throw new OperationOutcomeError(gone);
    }
    return deepClone(version.resource) as WithId<T>;
  }

  /** @see http://hl7.org/fhir/R4/search.html */
  async search<T extends Resource>(searchRequest: SearchRequest<T>): Promise<Bundle<WithId<T>>> {
    const search = prepareSearch(searchRequest);
    const matches: Readonly<Resource>[] = [];
    const mayMatch = tokenPrefilter(search);
    for (const resource of this.store.live(search.resourceType)) {
      // The cheap necessary condition first: Medplum evaluates R4's multi-type FHIRPath union
      // for `identifier` on every resource, which made each conditional create O(n) and a
      // transaction of them O(n²) (seconds for 30 entries). The full match still decides.
      if (mayMatch && !mayMatch(resource as Resource)) continue;
      if (matchesSearchRequest(resource as Resource, search)) {
        matches.push(resource);
      }
    }
    if (search.sortRules?.length) {
      matches.sort(compareBySortRules(search.sortRules));
    }
    // A database answers a search after I/O, and other requests run meanwhile. Yielding between
    // evaluating the search and returning it does the same, so a search-then-write (conditional
    // create, find-before-create) races here as on a real server unless it is locked (lock-keys.ts).
    await new Promise<void>((resolve) => setImmediate(resolve));
    const offset = search.offset ?? 0;
    const page = matches.slice(offset, search.count === undefined ? undefined : offset + search.count);
    return {
      resourceType: 'Bundle',
      type: 'searchset',
      total: matches.length,
      ...(page.length
        ? { entry: page.map((resource) => ({ resource: deepClone(resource) as WithId<T>, search: { mode: 'match' as const } })) }
        : {}),
    };
  }

  async searchByReference<T extends Resource>(
    searchRequest: SearchRequest<T>,
    referenceField: string,
    references: string[],
  ): Promise<Record<string, WithId<T>[]>> {
    const results: Record<string, WithId<T>[]> = {};
    for (const reference of references) {
      const filters = [...(searchRequest.filters ?? []), { code: referenceField, operator: Operator.EQUALS, value: reference }];
      results[reference] = await this.searchResources({ ...searchRequest, filters });
    }
    return results;
  }

  /**
   * All-or-nothing: every write inside `callback` is undone if it throws, and references are
   * checked when it returns, since a transaction may create a referenced resource after the
   * resource that references it. Nested calls (Medplum's conditional create inside a
   * transaction) join the open transaction. Concurrent transactions are isolated from each
   * other's rollback; the HTTP layer locks the identities they touch (see lock-keys.ts).
   * @see http://hl7.org/fhir/R4/http.html#trules
   */
  async withTransaction<TResult>(callback: (client: undefined) => Promise<TResult>): Promise<TResult> {
    if (this.transaction.getStore()) {
      return callback(undefined);
    }
    const state = { journal: new Map() as Journal, written: [] as Resource[], committed: [] as Resource[] };
    const result = await this.transaction.run(state, async () => {
      try {
        const value = await callback(undefined);
        this.checkReferences(state.written);
        return value;
      } catch (err) {
        this.store.rollback(state.journal);
        throw err;
      }
    });
    // Announced only once committed: a rolled-back transaction fires no rest-hook.
    if (state.committed.length > 0) this.onCommitted?.(state.committed);
    return result;
  }

  private write<T extends Resource>(input: WithId<T>): WithId<T> {
    const resource = deepClone(input);
    validate(resource);
    validateClaimedProfiles(resource, this.profileValidation);
    const transaction = this.transaction.getStore();
    if (transaction) {
      transaction.written.push(resource);
    } else {
      this.checkReferences([resource]);
    }
    const versionId = this.nextVersionId(resource.resourceType, resource.id);
    const lastUpdated = this.now().toISOString();
    // Server-assigned: whatever the client sent in meta.versionId/lastUpdated is replaced.
    resource.meta = { ...resource.meta, versionId, lastUpdated };
    this.store.append(resource.resourceType, resource.id, { versionId, lastUpdated, resource: deepClone(resource) }, transaction?.journal);
    if (transaction) transaction.committed.push(deepClone(resource));
    else this.onCommitted?.([deepClone(resource)]);
    return resource;
  }

  /** Opaque UUIDs, as Medplum issues: a client that compares or increments version ids fails here, not in production. */
  private nextVersionId(_resourceType: string, _id: string): string {
    return randomUUID();
  }

  private checkReferences(resources: readonly Resource[]): void {
    if (!this.referentialIntegrity) {
      return;
    }
    const issues: OperationOutcomeIssue[] = resources.flatMap((r) => danglingReferences(r, (type, id) => this.exists(type, id)));
    if (issues.length > 0) {
      throw new OperationOutcomeError(unprocessable(issues));
    }
  }
}

function historyEntry<T extends Resource>(
  resourceType: string,
  id: string,
  version: ResourceVersion,
  first: boolean,
): BundleEntry<WithId<T>> {
  const etag = `W/"${version.versionId}"`;
  if (!version.resource) {
    return {
      request: { method: 'DELETE', url: `${resourceType}/${id}` },
      response: { status: '204', etag, lastModified: version.lastUpdated },
    };
  }
  return {
    resource: deepClone(version.resource) as WithId<T>,
    request: { method: first ? 'POST' : 'PUT', url: first ? resourceType : `${resourceType}/${id}` },
    response: { status: first ? '201' : '200', etag, lastModified: version.lastUpdated },
  };
}

/**
 * Medplum's validator throws a 400 outcome on errors; it is re-issued as 422 because the body
 * did parse as FHIR and failed only the R4 StructureDefinitions.
 * @see http://hl7.org/fhir/R4/validation.html
 */
function validate(resource: Resource): void {
  try {
    validateResource(resource);
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      throw new OperationOutcomeError(unprocessable(err.outcome.issue));
    }
    throw err;
  }
}
