/**
 * Current FHIR resources plus every version in `resource_history`, following FHIR's
 * versioning model (https://hl7.org/fhir/R4/http.html#versioning): `meta.versionId` is the
 * integer version as a string and `meta.lastUpdated` the time it was written.
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import type { Db } from './db';
import { jsonEqual } from './json-equal';
import { patientIdOf } from './patient-ref';
import { jsonParam, numberFrom } from './sql-values';

export interface PutResourcesOptions {
  /** The patient every resource belongs to; derived from each resource when left out. */
  patientId?: string;
}

/**
 * Upserts each resource in one transaction (the caller's, when given a `tx`). A resource
 * without an id gets a random UUID. A new or changed resource gets the next version, a
 * fresh `meta.lastUpdated` and a history row; one whose content apart from
 * `meta.versionId`/`meta.lastUpdated` equals the stored one keeps its version and writes
 * nothing. Returns the resources as stored, in the order given.
 */
export async function putResources<T extends Resource>(
  db: Db,
  resources: readonly T[],
  opts: PutResourcesOptions = {},
): Promise<T[]> {
  return db.transaction(async (tx) => {
    const stored: T[] = [];
    for (const resource of resources) stored.push(await putOne(tx, resource, opts.patientId));
    return stored;
  });
}

async function putOne<T extends Resource>(tx: Db, resource: T, patientId: string | undefined): Promise<T> {
  // A JSON round trip drops undefined members, so what we compare is what jsonb will hold.
  const incoming = JSON.parse(JSON.stringify(resource)) as T;
  if (!incoming.id) incoming.id = randomUUID();
  const type = incoming.resourceType;
  const id = incoming.id;
  const owner = patientId ?? patientIdOf(incoming) ?? null;

  // Two attempts: a concurrent first insert of the same id makes ours a no-op, and the
  // second pass then finds (and locks) the row that transaction committed.
  for (let attempt = 0; attempt < 2; attempt++) {
    const [current] = await tx.query<{ version_id: unknown; content: T }>(
      'SELECT version_id, content FROM resources WHERE resource_type = $1 AND id = $2 FOR UPDATE',
      [type, id],
    );
    if (current && jsonEqual(withoutVersionMeta(current.content), withoutVersionMeta(incoming))) {
      return current.content;
    }
    const version = current ? numberFrom(current.version_id) + 1 : 1;
    const lastUpdated = new Date().toISOString();
    const content = { ...incoming, meta: { ...incoming.meta, versionId: String(version), lastUpdated } } as T;
    const written = current
      ? await tx.query(
          `UPDATE resources SET version_id = $3, content = $4::jsonb, patient_id = $5, last_updated = $6
           WHERE resource_type = $1 AND id = $2 RETURNING id`,
          [type, id, version, jsonParam(content), owner, lastUpdated],
        )
      : await tx.query(
          `INSERT INTO resources (resource_type, id, version_id, content, patient_id, last_updated)
           VALUES ($1, $2, $3, $4::jsonb, $5, $6) ON CONFLICT (resource_type, id) DO NOTHING RETURNING id`,
          [type, id, version, jsonParam(content), owner, lastUpdated],
        );
    if (written.length === 0) continue;
    await tx.query(
      `INSERT INTO resource_history (resource_type, id, version_id, content, last_updated)
       VALUES ($1, $2, $3, $4::jsonb, $5)`,
      [type, id, version, jsonParam(content), lastUpdated],
    );
    return content;
  }
  throw new Error(`Could not write ${type}/${id}: it kept changing underneath`);
}

/** The resource without the two meta elements the store itself sets. */
function withoutVersionMeta(resource: Resource): Resource {
  if (!resource.meta) return resource;
  const { versionId: _versionId, lastUpdated: _lastUpdated, ...rest } = resource.meta;
  const copy = { ...resource };
  if (Object.keys(rest).length === 0) delete copy.meta;
  else copy.meta = rest;
  return copy;
}

/** The current version of `type/id`, or undefined. */
export async function readResource<T extends Resource = Resource>(
  db: Db,
  type: string,
  id: string,
): Promise<T | undefined> {
  const [row] = await db.query<{ content: T }>('SELECT content FROM resources WHERE resource_type = $1 AND id = $2', [
    type,
    id,
  ]);
  return row?.content;
}

/** One historical version of `type/id` (https://hl7.org/fhir/R4/http.html#vread), or undefined. */
export async function readResourceVersion<T extends Resource = Resource>(
  db: Db,
  type: string,
  id: string,
  versionId: string | number,
): Promise<T | undefined> {
  const version = Number(versionId);
  if (!Number.isSafeInteger(version) || version < 1) return undefined;
  const [row] = await db.query<{ content: T }>(
    'SELECT content FROM resource_history WHERE resource_type = $1 AND id = $2 AND version_id = $3',
    [type, id, version],
  );
  return row?.content;
}

/** Every stored version of `type/id`, oldest first. */
export async function listResourceHistory<T extends Resource = Resource>(
  db: Db,
  type: string,
  id: string,
): Promise<T[]> {
  const rows = await db.query<{ content: T }>(
    'SELECT content FROM resource_history WHERE resource_type = $1 AND id = $2 ORDER BY version_id',
    [type, id],
  );
  return rows.map((row) => row.content);
}

export interface ResourceSearch {
  /** The patient id (not a reference) the resources belong to. */
  patient?: string;
  /** Matches any element of the resource's `identifier` array; system is optional. */
  identifier?: { system?: string; value: string };
  /** Page size; default 100, at most 1000. */
  count?: number;
  /** Rows to skip; default 0. */
  offset?: number;
}

export interface ResourceSearchResult<T extends Resource = Resource> {
  /** All matches, regardless of paging. */
  total: number;
  resources: T[];
}

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

/** Current resources of one type, filtered, ordered by last_updated then id, paged. */
export async function searchResources<T extends Resource = Resource>(
  db: Db,
  type: string,
  search: ResourceSearch = {},
): Promise<ResourceSearchResult<T>> {
  const where = ['resource_type = $1'];
  const params: unknown[] = [type];
  if (search.patient !== undefined) {
    params.push(search.patient);
    where.push(`patient_id = $${params.length}`);
  }
  if (search.identifier) {
    const wanted = search.identifier.system === undefined
      ? { value: search.identifier.value }
      : { system: search.identifier.system, value: search.identifier.value };
    params.push(jsonParam([wanted]));
    // Containment on the expression the GIN index covers.
    where.push(`content -> 'identifier' @> $${params.length}::jsonb`);
  }
  const filter = where.join(' AND ');
  const [counted] = await db.query<{ total: unknown }>(
    `SELECT count(*)::int AS total FROM resources WHERE ${filter}`,
    params,
  );
  const count = Math.min(Math.max(Math.trunc(search.count ?? DEFAULT_PAGE), 0), MAX_PAGE);
  const offset = Math.max(Math.trunc(search.offset ?? 0), 0);
  const rows = await db.query<{ content: T }>(
    `SELECT content FROM resources WHERE ${filter} ORDER BY last_updated, id LIMIT ${count} OFFSET ${offset}`,
    params,
  );
  return { total: numberFrom(counted?.total ?? 0), resources: rows.map((row) => row.content) };
}

/** Every current resource of one patient (any type), ordered by last_updated then type and id. */
export async function listPatientResources(db: Db, patientId: string): Promise<Resource[]> {
  const rows = await db.query<{ content: Resource }>(
    'SELECT content FROM resources WHERE patient_id = $1 ORDER BY last_updated, resource_type, id',
    [patientId],
  );
  return rows.map((row) => row.content);
}
