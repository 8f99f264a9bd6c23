/**
 * What operators ask of delivery as a whole: how much is pending, synced or given up on,
 * how old the oldest pending change is, and which patients have changes waiting that no
 * job is working on.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { DeploymentDb } from './db';
import type { TenantDb } from './tenant';
import { jsonParam, numberFrom, textOrNull } from './sql-values';
import type { ResourceKey } from './sync-state';

export interface SyncStatusCounts {
  readonly pending: number;
  readonly synced: number;
  /** Given up on: the queue's dead letters hold the reason. */
  readonly dead: number;
  /** Waiting for the hospital's Patient to exist in an EHR that may not create one. */
  readonly waitingForPatient: number;
  /** Seconds since the oldest pending change was stored; 0 when nothing is pending. */
  readonly oldestPendingSeconds: number;
}

/**
 * Counts of stored resources by sync state. A resource with no sync state yet counts as
 * pending: it was stored, and its sync is still to come.
 */
export async function syncStatusCounts(db: TenantDb): Promise<SyncStatusCounts> {
  const [row] = await db.query<{ pending: unknown; synced: unknown; dead: unknown; waiting: unknown; oldest: unknown }>(
    `SELECT count(*) FILTER (WHERE state = 'pending')::int AS pending,
            count(*) FILTER (WHERE state = 'synced')::int AS synced,
            count(*) FILTER (WHERE state = 'failed')::int AS dead,
            count(*) FILTER (WHERE state = 'waiting-for-patient')::int AS waiting,
            COALESCE(EXTRACT(EPOCH FROM now() - min(last_updated) FILTER (WHERE state = 'pending')), 0)::float8 AS oldest
     FROM (SELECT CASE WHEN s.status IS NULL THEN 'pending' ELSE s.status END AS state, r.last_updated
           FROM resources r LEFT JOIN sync_state s ON s.resource_type = r.resource_type AND s.id = r.id
           WHERE r.patient_id IS NOT NULL) t`,
  );
  return {
    pending: numberFrom(row?.pending ?? 0),
    synced: numberFrom(row?.synced ?? 0),
    dead: numberFrom(row?.dead ?? 0),
    waitingForPatient: numberFrom(row?.waiting ?? 0),
    oldestPendingSeconds: Math.max(0, Number(row?.oldest ?? 0)),
  };
}

/**
 * Seconds since the oldest change the EHR has not confirmed was stored, 0 when none: for a
 * metrics scrape (every tenant's, through the deployment's handle), which should not count
 * every stored resource as `syncStatusCounts` does.
 * Reads the pending rows only (a partial index).
 */
export async function oldestPendingSeconds(db: DeploymentDb): Promise<number> {
  const [row] = await db.query<{ oldest: unknown }>(
    `SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(r.last_updated)), 0)::float8 AS oldest
     FROM sync_state s JOIN resources r ON r.resource_type = s.resource_type AND r.id = s.id
     WHERE s.status = 'pending'`,
  );
  return Math.max(0, Number(row?.oldest ?? 0));
}

/**
 * Patients with a change pending for longer than `olderThanMs` and no open row of the sync's
 * topic (`syncTopic`, the work registry's): work that was lost somewhere (a row completed by
 * mistake, a bug), to be asked for again.
 */
export async function stalePendingPatients(db: TenantDb, syncTopic: string, olderThanMs: number, limit = 100): Promise<string[]> {
  const rows = await db.query<{ patient_id: unknown }>(
    `SELECT DISTINCT r.patient_id FROM sync_state s
     JOIN resources r ON r.resource_type = s.resource_type AND r.id = s.id
     WHERE s.status = 'pending' AND r.patient_id IS NOT NULL
       AND r.last_updated <= now() - $1::double precision * interval '1 millisecond'
       AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.topic = $3 AND o.patient_id = r.patient_id
                       AND o.completed_at IS NULL AND o.dead_at IS NULL)
     LIMIT $2`,
    [olderThanMs, limit, syncTopic],
  );
  return rows.map((r) => String(r.patient_id));
}

/** Open outbox rows (neither completed nor dead) by topic, for /metrics. */
export async function openOutboxByTopic(db: DeploymentDb): Promise<Record<string, number>> {
  return countsBy(
    db,
    'SELECT topic AS label, count(*)::int AS n FROM outbox WHERE completed_at IS NULL AND dead_at IS NULL GROUP BY topic',
  );
}

/** Dead letters not re-driven yet by topic, for /metrics. */
export async function deadLettersByTopic(db: DeploymentDb): Promise<Record<string, number>> {
  return countsBy(
    db,
    'SELECT topic AS label, count(*)::int AS n FROM outbox WHERE dead_at IS NOT NULL AND completed_at IS NULL GROUP BY topic',
  );
}

/** Stored resources whose latest version is not in the EHR yet, by sync status, for /metrics. */
export async function unsyncedByStatus(db: DeploymentDb): Promise<Record<string, number>> {
  return countsBy(db, "SELECT status AS label, count(*)::int AS n FROM sync_state WHERE status <> 'synced' GROUP BY status");
}

async function countsBy(db: DeploymentDb, sql: string): Promise<Record<string, number>> {
  return Object.fromEntries((await db.query<{ label: unknown; n: unknown }>(sql)).map((r) => [String(r.label), numberFrom(r.n)]));
}

/** A resource the adapter believes the EHR holds at the version it wrote. */
export interface SyncedResource {
  readonly type: string;
  readonly id: string;
  readonly patientId: string;
  readonly version: number;
  readonly resource: Resource;
  readonly ehrId: string;
  readonly ehrVersion: string | null;
}

/** Every synced resource (of one patient, or all), for reconciliation against the EHR. */
export async function listSyncedResources(db: TenantDb, patientId?: string): Promise<SyncedResource[]> {
  const records = await db.query<{
    resource_type: string;
    id: string;
    patient_id: unknown;
    version_id: unknown;
    content: Resource;
    ehr_id: unknown;
    ehr_version: unknown;
  }>(
    `SELECT r.resource_type, r.id, r.patient_id, r.version_id, r.content, s.ehr_id, s.ehr_version
     FROM sync_state s JOIN resources r ON r.resource_type = s.resource_type AND r.id = s.id
     WHERE s.status = 'synced' AND s.ehr_id IS NOT NULL AND r.patient_id IS NOT NULL AND ($1::text IS NULL OR r.patient_id = $1)
     ORDER BY r.patient_id, r.last_updated, r.resource_type, r.id`,
    [patientId ?? null],
  );
  return records.map((r) => ({
    type: r.resource_type,
    id: r.id,
    patientId: String(r.patient_id),
    version: numberFrom(r.version_id),
    resource: r.content,
    ehrId: String(r.ehr_id),
    ehrVersion: textOrNull(r.ehr_version),
  }));
}

/**
 * Puts resources back in line for the EHR, after reconciliation found them missing there
 * (their EHR id is forgotten, so they are created again) or different (updated again).
 */
export async function markForResync(db: TenantDb, items: readonly (ResourceKey & { readonly missing: boolean })[]): Promise<void> {
  if (items.length === 0) return;
  await db.query(
    `UPDATE sync_state s SET status = 'pending', synced_version = NULL, last_error = NULL, updated_at = now(),
            ehr_id = CASE WHEN i.missing THEN NULL ELSE s.ehr_id END,
            ehr_version = CASE WHEN i.missing THEN NULL ELSE s.ehr_version END
     FROM jsonb_to_recordset($1::jsonb) AS i(type text, id text, missing boolean)
     WHERE s.resource_type = i.type AND s.id = i.id`,
    [jsonParam(items)],
  );
}
