import type { SqlHandle } from './db';

/**
 * Short leases on a key, shared by every worker process through the database. The EHR sync
 * holds one per patient, so writes for a patient are never sent concurrently: conditional
 * create is not race-safe on several real FHIR servers. A holder that dies loses its
 * lease when it expires.
 */

/** Takes the lease if it is free, expired or already ours; true when we hold it now. */
export async function acquireLease(db: SqlHandle, key: string, holder: string, ttlMs: number): Promise<boolean> {
  const rows = await db.query(
    `INSERT INTO sync_leases (lease_key, holder, expires_at)
     VALUES ($1, $2, now() + $3::double precision * interval '1 millisecond')
     ON CONFLICT (lease_key) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
       WHERE sync_leases.expires_at < now() OR sync_leases.holder = EXCLUDED.holder
     RETURNING holder`,
    [key, holder, ttlMs],
  );
  return rows.length === 1;
}

/** Gives the lease up if we still hold it. */
export async function releaseLease(db: SqlHandle, key: string, holder: string): Promise<void> {
  await db.query('DELETE FROM sync_leases WHERE lease_key = $1 AND holder = $2', [key, holder]);
}
