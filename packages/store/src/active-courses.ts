import type { TenantDb } from './tenant';

/** The running (not stopped) courses of these patients, oldest first. */
export async function listActiveCourseIds(db: TenantDb, patientIds: readonly string[]): Promise<string[]> {
  if (patientIds.length === 0) return [];
  const rows = await db.query<{ id: string }>(
    `SELECT id FROM courses WHERE stopped_at IS NULL AND patient_id IN (SELECT jsonb_array_elements_text($1::jsonb)) ORDER BY created_at, id`,
    [JSON.stringify(patientIds)],
  );
  return rows.map((r) => r.id);
}
