import type { DeploymentDb } from './db';

/**
 * This database's identity, made once by the migrations: a restore keeps it (the same
 * deployment), a fresh install gets a new one. Queue keys and the Redis fingerprint derive
 * from it, so two installs on one Redis never share jobs.
 */
export async function getDeploymentId(db: DeploymentDb): Promise<string> {
  const [row] = await db.query<{ id: unknown }>('SELECT id FROM deployment WHERE singleton');
  if (!row) throw new Error('The deployment row is missing: run the migrations');
  return String(row.id);
}
