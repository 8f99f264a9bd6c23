/**
 * Reconciliations: an operator asks the adapter to read back from the EHR what it believes
 * is there, and gets per resource whether the EHR holds it as we do, lacks it, or differs.
 */
import type { TenantDb } from './tenant';
import { isoFrom, isoOrNull, jsonParam, textOrNull } from './sql-values';

export type ReconciledStatus = 'in-ehr' | 'missing' | 'different';

export interface ReconciledResource {
  /** `Patient/id` here: whose resource it is. */
  readonly patient: string;
  /** `Type/id` here. */
  readonly resource: string;
  /** `Type/id` in the EHR. */
  readonly ehr: string;
  readonly status: ReconciledStatus;
  /**
   * Other EHR resources carrying this one's identity (`Type/id` there), beside `ehr`: a
   * duplicate made outside the adapter's exactly-once path. Reported, never deleted.
   */
  readonly duplicates?: readonly string[];
  /** Missing and different ones are queued for the EHR again. */
  readonly requeued: boolean;
}

export interface Reconciliation {
  readonly id: string;
  readonly patientId: string | null;
  readonly requestedAt: string;
  readonly finishedAt: string | null;
  readonly error: string | null;
  readonly results: readonly ReconciledResource[];
}

interface Record {
  id: unknown;
  patient_id: unknown;
  requested_at: unknown;
  finished_at: unknown;
  error: unknown;
  results: unknown;
}

const toReconciliation = (r: Record): Reconciliation => ({
  id: String(r.id),
  patientId: textOrNull(r.patient_id),
  requestedAt: isoFrom(r.requested_at),
  finishedAt: isoOrNull(r.finished_at),
  error: textOrNull(r.error),
  results: Array.isArray(r.results) ? (r.results as ReconciledResource[]) : [],
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function createReconciliation(db: TenantDb, id: string, patientId: string | null): Promise<Reconciliation> {
  const [record] = await db.query<Record>('INSERT INTO reconciliations (id, patient_id) VALUES ($1::uuid, $2) RETURNING *', [
    id,
    patientId,
  ]);
  if (!record) throw new Error('INSERT returned no row');
  return toReconciliation(record);
}

/** The reconciliation with this id, or undefined (also for an id that is no UUID). */
export async function getReconciliation(db: TenantDb, id: string): Promise<Reconciliation | undefined> {
  if (!UUID.test(id)) return undefined;
  const [record] = await db.query<Record>('SELECT * FROM reconciliations WHERE id = $1::uuid', [id]);
  return record && toReconciliation(record);
}

export async function finishReconciliation(
  db: TenantDb,
  id: string,
  outcome: { results: readonly ReconciledResource[]; error?: string },
): Promise<void> {
  await db.query('UPDATE reconciliations SET finished_at = now(), results = $2::jsonb, error = $3 WHERE id = $1::uuid', [
    id,
    jsonParam(outcome.results),
    outcome.error ?? null,
  ]);
}
