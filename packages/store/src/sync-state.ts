/**
 * Where each stored resource stands with the EHR. `local_version` is the newest local
 * version known to need syncing; `synced_version` the newest the EHR confirmed. Both only
 * move forward, so a late, stale sync job can never mark newer data as synced.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { TenantDb } from './tenant';
import { isoFrom, jsonParam, numberFrom, textOrNull } from './sql-values';

// The statuses are @kap/domain's (one list for the store, the API and the schema's CHECK).
export { SYNC_STATUSES, type SyncStatus } from '@kap/domain';
import type { SyncStatus } from '@kap/domain';

/** A resource by type and id. */
export interface ResourceKey {
  type: string;
  id: string;
}

/** A resource version: what putResources wrote (`Number(meta.versionId)`). */
export interface ResourceVersionRef extends ResourceKey {
  version: number;
}

export interface SyncStateRow {
  type: string;
  id: string;
  localVersion: number;
  syncedVersion: number | null;
  /** The EHR's id for the resource, once created there. */
  ehrId: string | null;
  /** The EHR's version (opaque: servers use integers or UUIDs). */
  ehrVersion: string | null;
  status: SyncStatus;
  lastError: string | null;
  /** How the synced version was sent when not exactly as stored (a profile claim the EHR refused, left out). */
  sentNote: string | null;
  updatedAt: string;
}

export interface MarkSynced {
  type: string;
  id: string;
  /** The local version that was sent. */
  localVersion: number;
  ehrId: string;
  ehrVersion: string | null;
  /** How it was sent, when not exactly as stored. */
  note?: string;
}

export interface MarkFailed {
  type: string;
  id: string;
  error: string;
  /** The local version that failed; when the EHR already has this one or newer, the failure is stale and ignored. */
  localVersion?: number;
}

/** A stored resource whose current version the EHR has not confirmed. */
export interface UnsyncedResource {
  type: string;
  id: string;
  version: number;
  resource: Resource;
  syncedVersion: number | null;
  ehrId: string | null;
  ehrVersion: string | null;
  /** null when no sync state was ever recorded for it. */
  status: SyncStatus | null;
  lastError: string | null;
}

/**
 * The version refs of resources as putResources returned them, for markPending. Resources
 * without an id or `meta.versionId` (never stored) are skipped.
 */
export function toVersionRefs(resources: readonly Resource[]): ResourceVersionRef[] {
  const refs: ResourceVersionRef[] = [];
  for (const resource of resources) {
    const version = Number(resource.meta?.versionId);
    if (resource.id && Number.isSafeInteger(version)) refs.push({ type: resource.resourceType, id: resource.id, version });
  }
  return refs;
}

const COLUMNS = 'resource_type, id, local_version, synced_version, ehr_id, ehr_version, status, last_error, sent_note, updated_at';

interface SyncStateRecord {
  resource_type: string;
  id: string;
  local_version: unknown;
  synced_version: unknown;
  ehr_id: unknown;
  ehr_version: unknown;
  status: SyncStatus;
  last_error: unknown;
  sent_note: unknown;
  updated_at: unknown;
}

function toRow(record: SyncStateRecord): SyncStateRow {
  return {
    type: record.resource_type,
    id: record.id,
    localVersion: numberFrom(record.local_version),
    syncedVersion: record.synced_version === null ? null : numberFrom(record.synced_version),
    ehrId: textOrNull(record.ehr_id),
    ehrVersion: textOrNull(record.ehr_version),
    status: record.status,
    lastError: textOrNull(record.last_error),
    sentNote: textOrNull(record.sent_note),
    updatedAt: isoFrom(record.updated_at),
  };
}

/** markPending's statement, its versions in the jsonb parameter `param`; a CTE of a larger statement too. */
export const MARK_PENDING_SQL = (param: string): string =>
  `INSERT INTO sync_state (resource_type, id, local_version, status, updated_at)
     SELECT r.type, r.id, r.version, 'pending', now()
     FROM jsonb_to_recordset(${param}::jsonb) AS r(type text, id text, version integer)
     ON CONFLICT (resource_type, id) DO UPDATE SET
       local_version = GREATEST(sync_state.local_version, excluded.local_version),
       status = CASE WHEN COALESCE(sync_state.synced_version, 0) >= GREATEST(sync_state.local_version, excluded.local_version)
                THEN sync_state.status ELSE 'pending' END,
       last_error = CASE WHEN excluded.local_version > sync_state.local_version THEN NULL ELSE sync_state.last_error END,
       updated_at = now()`;

/** The parameter of MARK_PENDING_SQL: one row per key, since ON CONFLICT cannot touch the same row twice in one statement. */
export function pendingParam(refs: readonly ResourceVersionRef[]): string {
  const newest = new Map<string, ResourceVersionRef>();
  for (const ref of refs) {
    const key = `${ref.type}/${ref.id}`;
    const seen = newest.get(key);
    if (!seen || seen.version < ref.version) newest.set(key, ref);
  }
  return jsonParam([...newest.values()]);
}

/**
 * Records that these versions need syncing; call it in the putResources transaction for
 * every resource written. A version the EHR already has (an unchanged resource) keeps its
 * status; a newer one turns the row `pending`.
 */
export async function markPending(db: TenantDb, refs: readonly ResourceVersionRef[]): Promise<void> {
  if (refs.length === 0) return;
  await db.query(MARK_PENDING_SQL('$1'), [pendingParam(refs)]);
}

/**
 * Records that the EHR holds `localVersion`. Ignored (returns false) when a newer version
 * was already confirmed; never lowers `local_version`. The row is `synced` when nothing
 * newer is pending, else it stays as it was.
 */
export async function markSynced(db: TenantDb, sync: MarkSynced): Promise<boolean> {
  return (await markSyncedMany(db, [sync])) > 0;
}

/**
 * markSynced for many resources in one statement (one row per key: the newest version
 * wins, as it would one after another). Returns how many rows it changed.
 */
export async function markSyncedMany(db: TenantDb, syncs: readonly MarkSynced[]): Promise<number> {
  if (syncs.length === 0) return 0;
  const newest = new Map<string, MarkSynced>();
  for (const s of syncs) {
    const key = `${s.type}/${s.id}`;
    const seen = newest.get(key);
    if (!seen || seen.localVersion <= s.localVersion) newest.set(key, s);
  }
  const rows = await db.query(
    `INSERT INTO sync_state (resource_type, id, local_version, synced_version, ehr_id, ehr_version, status, sent_note, updated_at)
     SELECT r.type, r.id, r.version, r.version, r.ehr_id, r.ehr_version, 'synced', r.note, now()
     FROM jsonb_to_recordset($1::jsonb) AS r(type text, id text, version integer, ehr_id text, ehr_version text, note text)
     ON CONFLICT (resource_type, id) DO UPDATE SET
       synced_version = excluded.synced_version,
       sent_note = excluded.sent_note,
       local_version = GREATEST(sync_state.local_version, excluded.local_version),
       ehr_id = excluded.ehr_id,
       ehr_version = excluded.ehr_version,
       status = CASE WHEN excluded.synced_version >= sync_state.local_version THEN 'synced' ELSE sync_state.status END,
       last_error = CASE WHEN excluded.synced_version >= sync_state.local_version THEN NULL ELSE sync_state.last_error END,
       updated_at = now()
     WHERE COALESCE(sync_state.synced_version, 0) <= excluded.synced_version
     RETURNING id`,
    [
      jsonParam(
        [...newest.values()].map((s) => ({
          type: s.type,
          id: s.id,
          version: s.localVersion,
          ehr_id: s.ehrId,
          ehr_version: s.ehrVersion,
          note: s.note ?? null,
        })),
      ),
    ],
  );
  return rows.length;
}

/**
 * Records a failed sync. Ignored (returns false) when the row is unknown or the EHR
 * already holds the failed version or a newer one.
 */
export async function markFailed(db: TenantDb, failure: MarkFailed): Promise<boolean> {
  const rows = await db.query(
    `UPDATE sync_state SET status = 'failed', last_error = $3, updated_at = now()
     WHERE resource_type = $1 AND id = $2
       AND COALESCE(synced_version, 0) < COALESCE($4::integer, local_version)
     RETURNING id`,
    [failure.type, failure.id, failure.error, failure.localVersion ?? null],
  );
  return rows.length > 0;
}

/**
 * Records that a version will not be sent because the EHR does not take its type. A later
 * version (or a configuration that takes the type) makes it `pending` again.
 */
export async function markNotSent(db: TenantDb, refs: readonly ResourceVersionRef[], reason: string): Promise<void> {
  await holdBack(db, refs, 'not-sent', reason);
}

/**
 * Records that these versions wait for the hospital's Patient to exist in the EHR. A newer
 * version keeps waiting (it is pending, and its sync finds the Patient missing again).
 */
export async function markWaitingForPatient(db: TenantDb, refs: readonly ResourceVersionRef[], reason: string): Promise<void> {
  await holdBack(db, refs, 'waiting-for-patient', reason);
}

/** Versions the EHR has not got and is not sent now, with why; a version it already has is left as it is. */
async function holdBack(
  db: TenantDb,
  refs: readonly ResourceVersionRef[],
  status: 'not-sent' | 'waiting-for-patient',
  reason: string,
): Promise<void> {
  if (refs.length === 0) return;
  await db.query(
    `INSERT INTO sync_state (resource_type, id, local_version, status, last_error, updated_at)
     SELECT r.type, r.id, r.version, $3, $2, now()
     FROM jsonb_to_recordset($1::jsonb) AS r(type text, id text, version integer)
     ON CONFLICT (resource_type, id) DO UPDATE SET
       local_version = GREATEST(sync_state.local_version, excluded.local_version),
       status = $3, last_error = $2, updated_at = now()
     WHERE COALESCE(sync_state.synced_version, 0) < excluded.local_version`,
    [jsonParam(refs.map((r) => ({ type: r.type, id: r.id, version: r.version }))), reason.slice(0, 1000), status],
  );
}

/** Patients with resources waiting for their Patient in the EHR (for a reconcile to wake). */
export async function patientsWaitingForEhrPatient(db: TenantDb, patientId?: string): Promise<string[]> {
  const rows = await db.query<{ patient_id: unknown }>(
    `SELECT DISTINCT r.patient_id FROM sync_state s
     JOIN resources r ON r.resource_type = s.resource_type AND r.id = s.id
     WHERE s.status = 'waiting-for-patient' AND r.patient_id IS NOT NULL AND ($1::text IS NULL OR r.patient_id = $1)`,
    [patientId ?? null],
  );
  return rows.map((r) => String(r.patient_id));
}

/**
 * Records where the EHR put a resource without saying it holds the current version: the
 * first write of one on a reference cycle, written without part of its references, or a
 * conditional create that matched an older copy. Later requests can then reference it by
 * its EHR id, and a later pass updates it.
 */
export async function recordEhrCopy(
  db: TenantDb,
  ref: ResourceKey & { localVersion: number; ehrId: string; ehrVersion: string | null },
): Promise<void> {
  await db.query(
    `INSERT INTO sync_state (resource_type, id, local_version, ehr_id, ehr_version, status, updated_at)
     VALUES ($1, $2, $3, $4, $5, 'pending', now())
     ON CONFLICT (resource_type, id) DO UPDATE SET ehr_id = excluded.ehr_id, ehr_version = excluded.ehr_version, updated_at = now()`,
    [ref.type, ref.id, ref.localVersion, ref.ehrId, ref.ehrVersion],
  );
}

/**
 * Forgets where the EHR had a resource, after the EHR answered 404/410 to its update (the
 * copy was deleted there, or the EHR lost it): the next sync finds or creates it afresh.
 */
export async function forgetEhrCopy(db: TenantDb, ref: ResourceKey): Promise<void> {
  await db.query(`UPDATE sync_state SET ehr_id = NULL, ehr_version = NULL, updated_at = now() WHERE resource_type = $1 AND id = $2`, [
    ref.type,
    ref.id,
  ]);
}

/** The sync state of each given resource that has one, in the order given. */
export async function getSyncStates(db: TenantDb, refs: readonly ResourceKey[]): Promise<SyncStateRow[]> {
  if (refs.length === 0) return [];
  const records = await db.query<SyncStateRecord>(
    `SELECT ${COLUMNS.split(', ')
      .map((column) => `s.${column}`)
      .join(', ')}
     FROM jsonb_to_recordset($1::jsonb) AS r(type text, id text, n integer)
     JOIN sync_state s ON s.resource_type = r.type AND s.id = r.id
     ORDER BY r.n`,
    [jsonParam(refs.map((ref, n) => ({ type: ref.type, id: ref.id, n })))],
  );
  return records.map(toRow);
}

/**
 * A patient's stored resources whose current version is newer than the one the EHR
 * confirmed (or never synced), ordered by last_updated: the work an ehr-sync job has left.
 */
export async function listUnsynced(db: TenantDb, patientId: string): Promise<UnsyncedResource[]> {
  return patientSyncRows(db, patientId, true);
}

/**
 * Every stored resource of a patient with its sync state, ordered by last_updated, in one
 * read: what a sync pass needs (the unsynced ones are those whose `syncedVersion` is behind
 * `version`; the EHR's copies are those with an `ehrId`) without reading content twice.
 */
export async function listPatientSyncRows(db: TenantDb, patientId: string): Promise<UnsyncedResource[]> {
  return patientSyncRows(db, patientId, false);
}

async function patientSyncRows(db: TenantDb, patientId: string, unsyncedOnly: boolean): Promise<UnsyncedResource[]> {
  const records = await db.query<{
    resource_type: string;
    id: string;
    version_id: unknown;
    content: Resource;
    synced_version: unknown;
    ehr_id: unknown;
    ehr_version: unknown;
    status: SyncStatus | null;
    last_error: unknown;
  }>(
    `SELECT r.resource_type, r.id, r.version_id, r.content,
            s.synced_version, s.ehr_id, s.ehr_version, s.status, s.last_error
     FROM resources r
     LEFT JOIN sync_state s ON s.resource_type = r.resource_type AND s.id = r.id
     WHERE r.patient_id = $1${unsyncedOnly ? ' AND COALESCE(s.synced_version, 0) < r.version_id' : ''}
     ORDER BY r.last_updated, r.resource_type, r.id`,
    [patientId],
  );
  return records.map((record) => ({
    type: record.resource_type,
    id: record.id,
    version: numberFrom(record.version_id),
    resource: record.content,
    syncedVersion: record.synced_version === null ? null : numberFrom(record.synced_version),
    ehrId: textOrNull(record.ehr_id),
    ehrVersion: textOrNull(record.ehr_version),
    status: record.status ?? null,
    lastError: textOrNull(record.last_error),
  }));
}

/**
 * Notes the last error of a sync attempt that will be retried on each of the patient's
 * waiting resources, without calling them failed: operators see why they wait. Resources
 * already `failed` or `not-sent` keep their own reason.
 */
export async function noteSyncAttemptError(db: TenantDb, patientId: string, error: string): Promise<void> {
  await db.query(
    `UPDATE sync_state s SET last_error = $2, updated_at = now()
     FROM resources r
     WHERE r.resource_type = s.resource_type AND r.id = s.id AND r.patient_id = $1 AND s.status = 'pending'`,
    [patientId, error.slice(0, 1000)],
  );
}
