/**
 * Finding the adapter's patient from what the hospital calls them, across merges (HL7 v2
 * A40): a merged patient's identifiers are re-pointed to the survivor, and its id is
 * linked to the survivor's, so later messages and API calls with the old identifier, and
 * courses started under the old record, reach the surviving patient.
 */
import type { TenantDb } from './tenant';
import type { PatientIdentifier } from './patients';

const MAX_HOPS = 16;

/** The patient ids these identifiers map to, each resolved to its survivor; distinct, in no set order. */
export async function findPatientIds(db: TenantDb, identifiers: readonly PatientIdentifier[]): Promise<string[]> {
  if (identifiers.length === 0) return [];
  const rows = await db.query<{ patient_id: string }>(
    `SELECT DISTINCT i.patient_id FROM patient_identifiers i
     JOIN jsonb_to_recordset($1::jsonb) AS w(system text, value text) ON i.system = w.system AND i.value = w.value`,
    [JSON.stringify(identifiers.map((i) => ({ system: i.system, value: i.value })))],
  );
  const ids = new Set<string>();
  for (const row of rows) ids.add(await survivorOf(db, row.patient_id));
  return [...ids];
}

/** The local patient the EHR knows under this Patient id (from what the sync wrote there). */
export async function findPatientIdByEhrId(db: TenantDb, ehrPatientId: string): Promise<string | undefined> {
  const [row] = await db.query<{ id: string }>("SELECT id FROM sync_state WHERE resource_type = 'Patient' AND ehr_id = $1 LIMIT 1", [
    ehrPatientId,
  ]);
  return row ? survivorOf(db, row.id) : undefined;
}

/** The patient a (possibly merged) patient id now stands for. */
export async function survivorOf(db: TenantDb, patientId: string): Promise<string> {
  let current = patientId;
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const [row] = await db.query<{ survivor_id: string }>('SELECT survivor_id FROM patient_links WHERE merged_id = $1', [current]);
    if (!row || row.survivor_id === current) return current;
    current = row.survivor_id;
  }
  return current;
}

/** The patient and every patient merged into it, directly or through earlier merges. */
export async function patientWithMerged(db: TenantDb, patientId: string): Promise<string[]> {
  const all = [patientId];
  for (let i = 0; i < all.length && all.length < 1000; i++) {
    const rows = await db.query<{ merged_id: string }>('SELECT merged_id FROM patient_links WHERE survivor_id = $1', [all[i]]);
    for (const r of rows) if (!all.includes(r.merged_id)) all.push(r.merged_id);
  }
  return all;
}

/** Points these identifiers at the patient (new ones are added; ones of another patient move). */
export async function assignIdentifiers(db: TenantDb, identifiers: readonly PatientIdentifier[], patientId: string): Promise<void> {
  for (const i of identifiers) {
    await db.query(
      `INSERT INTO patient_identifiers (system, value, patient_id) VALUES ($1, $2, $3)
       ON CONFLICT (tenant_id, system, value) DO UPDATE SET patient_id = EXCLUDED.patient_id`,
      [i.system, i.value, patientId],
    );
  }
}

/** Merges one patient into another: its identifiers and links now lead to the survivor. */
export async function linkMergedPatient(db: TenantDb, mergedId: string, survivorId: string): Promise<void> {
  if (mergedId === survivorId) return;
  await db.query('UPDATE patient_identifiers SET patient_id = $2 WHERE patient_id = $1', [mergedId, survivorId]);
  await db.query('UPDATE patient_links SET survivor_id = $2 WHERE survivor_id = $1', [mergedId, survivorId]);
  await db.query(
    `INSERT INTO patient_links (merged_id, survivor_id) VALUES ($1, $2)
     ON CONFLICT (merged_id) DO UPDATE SET survivor_id = EXCLUDED.survivor_id, linked_at = now()`,
    [mergedId, survivorId],
  );
}
