/**
 * Current FHIR resources plus every version in `resource_history`, following FHIR's
 * versioning model (https://hl7.org/fhir/R4/http.html#versioning): `meta.versionId` is the
 * integer version as a string and `meta.lastUpdated` the time it was written.
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import type { TenantDb } from './tenant';
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
  db: TenantDb,
  resources: readonly T[],
  opts: PutResourcesOptions = {},
): Promise<T[]> {
  return db.transaction(async (tx) => {
    const incoming = resources.map(normalised);
    const keys = incoming.map((r) => `${r.resourceType}/${r.id}`);
    // The same resource twice in one call: each write must see the one before it.
    if (new Set(keys).size !== keys.length) {
      const stored: T[] = [];
      for (const resource of incoming) stored.push(await putOne(tx, resource, opts.patientId));
      return stored;
    }
    return putBatch(tx, incoming, opts.patientId);
  });
}

/** A JSON round trip drops undefined members, so what we compare is what jsonb will hold. */
function normalised<T extends Resource>(resource: T): T {
  const incoming = JSON.parse(JSON.stringify(resource)) as T;
  if (!incoming.id) incoming.id = randomUUID();
  return incoming;
}

interface Written {
  type: string;
  id: string;
  version: number;
  content: Resource;
  patient_id: string | null;
  last_updated: string;
  /** Its place in the call: the column gets as many microseconds more, so rows keep the order given. */
  n: number;
}

const WRITTEN_COLUMNS = 'type text, id text, version integer, content jsonb, patient_id text, last_updated timestamptz, n integer';
const ordered = (alias: string): string => `${alias}.last_updated + ${alias}.n * interval '1 microsecond'`;

/**
 * putOne's rules for many resources in one round trip when all are new or unchanged, two
 * when some changed. The first statement locks every current row (in key order, as
 * concurrent batches do), and then, with every lock held, inserts the ones not there with
 * their history rows; the changed ones are compared here and updated by a second. A row
 * another transaction inserted meanwhile is left out of the insert and goes through putOne.
 */
async function putBatch<T extends Resource>(tx: TenantDb, incoming: readonly T[], patientId: string | undefined): Promise<T[]> {
  const lastUpdated = new Date().toISOString();
  const owner = (resource: T): string | null => patientId ?? patientIdOf(resource) ?? null;
  // What each would be as a new resource; the statement inserts those that are.
  const asNew: Written[] = incoming.map((resource, n) => ({
    type: resource.resourceType,
    id: resource.id as string,
    version: 1,
    content: { ...resource, meta: { ...resource.meta, versionId: '1', lastUpdated } },
    patient_id: owner(resource),
    last_updated: lastUpdated,
    n,
  }));
  const rows = await tx.query<{ resource_type: string; id: string; version_id: unknown; content: T | null }>(
    `WITH current AS (
       SELECT r.resource_type, r.id, r.version_id, r.content
       FROM resources r JOIN jsonb_to_recordset($1::jsonb) AS k(type text, id text) ON r.resource_type = k.type AND r.id = k.id
       ORDER BY r.resource_type, r.id FOR UPDATE OF r
     ),
     -- One value (an InitPlan) computed before the insert runs: every lock is taken first.
     existing AS (SELECT COALESCE(array_agg(resource_type || '/' || id), '{}') AS keys FROM current),
     input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(${WRITTEN_COLUMNS})),
     inserted AS (
       INSERT INTO resources (resource_type, id, version_id, content, patient_id, last_updated)
       SELECT i.type, i.id, i.version, i.content, i.patient_id, ${ordered('i')} FROM input i
       WHERE NOT (i.type || '/' || i.id = ANY ((SELECT keys FROM existing)::text[]))
       -- Key order, as the locking read: two batches inserting the same new ids in other
       -- orders would otherwise wait on each other's unique-index entries (a deadlock).
       ORDER BY i.type, i.id, i.n
       ON CONFLICT (resource_type, id) DO NOTHING RETURNING resource_type, id
     ),
     history AS (
       INSERT INTO resource_history (resource_type, id, version_id, content, last_updated)
       SELECT w.type, w.id, w.version, w.content, ${ordered('w')}
       FROM input w JOIN inserted d ON d.resource_type = w.type AND d.id = w.id
       RETURNING resource_type, id
     )
     SELECT resource_type, id, version_id, content FROM current
     UNION ALL SELECT resource_type, id, NULL, NULL FROM history`,
    [jsonParam(asNew)],
  );
  const byKey = new Map<string, { version_id: unknown; content: T }>();
  const inserted = new Set<string>();
  for (const row of rows) {
    const key = `${row.resource_type}/${row.id}`;
    if (row.content === null) inserted.add(key);
    else byKey.set(key, { version_id: row.version_id, content: row.content });
  }
  const stored: T[] = [];
  const updates: Written[] = [];
  const leftOver: { resource: T; i: number; key: string }[] = [];
  for (const [i, resource] of incoming.entries()) {
    const type = resource.resourceType;
    const id = resource.id as string;
    const key = `${type}/${id}`;
    const found = byKey.get(key);
    if (!found) {
      // Not there when locked: inserted above, or another transaction inserted it first.
      if (!inserted.has(key)) leftOver.push({ resource, i, key });
      stored.push(asNew[i]?.content as T);
      continue;
    }
    if (jsonEqual(withoutVersionMeta(found.content), withoutVersionMeta(resource))) {
      stored.push(found.content);
      continue;
    }
    const version = numberFrom(found.version_id) + 1;
    const content = { ...resource, meta: { ...resource.meta, versionId: String(version), lastUpdated } } as T;
    updates.push({ type, id, version, content, patient_id: owner(resource), last_updated: lastUpdated, n: i });
    stored.push(content);
  }
  if (updates.length > 0) {
    await tx.query(
      `WITH updates AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(${WRITTEN_COLUMNS})),
       updated AS (
         UPDATE resources t SET version_id = u.version, content = u.content, patient_id = u.patient_id, last_updated = ${ordered('u')}
         FROM updates u WHERE t.resource_type = u.type AND t.id = u.id RETURNING t.resource_type, t.id
       )
       INSERT INTO resource_history (resource_type, id, version_id, content, last_updated)
       SELECT w.type, w.id, w.version, w.content, ${ordered('w')}
       FROM updates w JOIN updated d ON d.resource_type = w.type AND d.id = w.id`,
      [jsonParam(updates)],
    );
  }
  // Another transaction inserted some of these ids first: putOne finds and locks its row,
  // in key order, as every other lock here is taken: in the caller's order, two batches
  // holding each other's rows would deadlock. The same id twice keeps the order given.
  leftOver.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.i - b.i));
  for (const { resource, i } of leftOver) stored[i] = await putOne(tx, resource, patientId);
  return stored;
}

async function putOne<T extends Resource>(tx: TenantDb, incoming: T, patientId: string | undefined): Promise<T> {
  const type = incoming.resourceType;
  const id = incoming.id as string;
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
export async function readResource<T extends Resource = Resource>(db: TenantDb, type: string, id: string): Promise<T | undefined> {
  const [row] = await db.query<{ content: T }>('SELECT content FROM resources WHERE resource_type = $1 AND id = $2', [type, id]);
  return row?.content;
}

/** The current versions of these ids of one type that exist, in one query, by id. */
export async function readResources<T extends Resource = Resource>(
  db: TenantDb,
  type: string,
  ids: readonly string[],
): Promise<Map<string, T>> {
  if (ids.length === 0) return new Map();
  const rows = await db.query<{ id: string; content: T }>(
    'SELECT id, content FROM resources WHERE resource_type = $1 AND id IN (SELECT jsonb_array_elements_text($2::jsonb))',
    [type, jsonParam(ids)],
  );
  return new Map(rows.map((row) => [row.id, row.content]));
}

/** One historical version of `type/id` (https://hl7.org/fhir/R4/http.html#vread), or undefined. */
export async function readResourceVersion<T extends Resource = Resource>(
  db: TenantDb,
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
export async function listResourceHistory<T extends Resource = Resource>(db: TenantDb, type: string, id: string): Promise<T[]> {
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
  db: TenantDb,
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
    const wanted =
      search.identifier.system === undefined
        ? { value: search.identifier.value }
        : { system: search.identifier.system, value: search.identifier.value };
    params.push(jsonParam([wanted]));
    // Containment: jsonb's @> is not leakproof, so under row security no index could serve it; a scan of the type.
    where.push(`content -> 'identifier' @> $${params.length}::jsonb`);
  }
  const filter = where.join(' AND ');
  const count = Math.min(Math.max(Math.trunc(search.count ?? DEFAULT_PAGE), 0), MAX_PAGE);
  const offset = Math.max(Math.trunc(search.offset ?? 0), 0);
  // The total rides on the page's rows (one round trip); only an empty page past the start asks again.
  const rows = await db.query<{ content: T; total: unknown }>(
    `SELECT content, count(*) OVER () AS total FROM resources WHERE ${filter} ORDER BY last_updated, id LIMIT ${count} OFFSET ${offset}`,
    params,
  );
  let total = rows.length > 0 ? numberFrom(rows[0]?.total) : 0;
  if (rows.length === 0 && (offset > 0 || count === 0)) {
    const [counted] = await db.query<{ total: unknown }>(`SELECT count(*)::int AS total FROM resources WHERE ${filter}`, params);
    total = numberFrom(counted?.total ?? 0);
  }
  return { total, resources: rows.map((row) => row.content) };
}

/** Every current resource of one patient (any type), ordered by last_updated then type and id. */
export async function listPatientResources(db: TenantDb, patientId: string): Promise<Resource[]> {
  const rows = await db.query<{ content: Resource }>(
    'SELECT content FROM resources WHERE patient_id = $1 ORDER BY last_updated, resource_type, id',
    [patientId],
  );
  return rows.map((row) => row.content);
}
