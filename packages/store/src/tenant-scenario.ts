/**
 * Two tenants in one database, and what each can see and do, proved against the database
 * itself. Test-only (not exported): tenant.test.ts runs it on PostgreSQL, pglite.test.ts in
 * a child process on PGlite, and both expect `TENANT_ISOLATION_EXPECTED`.
 */
import type { Observation } from '@medplum/fhirtypes';
import type { DeploymentDb, SqlHandle } from './db';
import { claimIdempotencyKey, completeIdempotencyKey, findIdempotentResponse } from './idempotency';
import { storeInboundMessage } from './inbound-messages';
import { TENANT_TABLES } from './migration-list';
import { enqueueOutbox, listUndispatched } from './outbox';
import { ensurePatient, patientIdFor } from './patients';
import { putResources, readResource, searchResources } from './resources';
import { getScreening, insertScreening } from './screenings';
import { forTenant, tenantOf } from './tenant';

const MRN = { system: 'urn:mrn', value: 'SHARED-1' };

/** The message of a refused statement, or 'accepted'. */
async function outcome(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
    return 'accepted';
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/row-level security/.test(message)) return 'refused by row-level security';
    if (/needs a tenant/.test(message)) return 'refused: no tenant';
    if (/permission denied/.test(message)) return 'permission denied';
    return String(error);
  }
}

/** Every tenant_id a handle can see in every tenant-owned table, deduplicated. */
async function visibleTenants(db: SqlHandle): Promise<string[]> {
  const seen = new Set<string>();
  for (const table of TENANT_TABLES) {
    const rows = await db.query<{ tenant_id: string }>(`SELECT DISTINCT tenant_id FROM ${table}`);
    for (const row of rows) seen.add(row.tenant_id);
  }
  return [...seen].sort();
}

/** Writes the same hospital identifier, an idempotency key and a message in tenants A and B, then tries to cross over. */
export async function tenantIsolationScenario(db: DeploymentDb): Promise<Record<string, unknown>> {
  const a = forTenant(db, 'A');
  const b = forTenant(db, 'B');

  const inA = await ensurePatient(a, MRN, () => ({ resourceType: 'Patient' }));
  const inB = await ensurePatient(b, MRN, () => ({ resourceType: 'Patient' }));
  const againInB = await ensurePatient(b, MRN, () => ({ resourceType: 'Patient' }));
  const bPatient = inB.patient.id as string;
  const observation = (id: string, patient: string): Observation => ({
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { text: 'heart rate' },
    subject: { reference: `Patient/${patient}` },
    valueQuantity: { value: 60 },
  });
  await b.transaction(async (tx) => {
    await putResources(tx, [observation('obs-b', bPatient)]);
    await insertScreening(tx, {
      id: 'screening-b',
      patientId: bPatient,
      outcome: 'eligible',
      reasons: [],
      resourceRefs: {},
      performedAt: new Date(),
    });
    await enqueueOutbox(tx, { topic: 'ehr-sync', patientId: bPatient, payload: { patientId: bPatient } });
  });
  await putResources(a, [observation('obs-a', inA.patient.id as string)]);
  for (const tenant of [a, b]) {
    await tenant.transaction(async (tx) => {
      await claimIdempotencyKey(tx, { scope: 'client', key: 'k1', requestHash: 'h', endpoint: 'POST /v1/screenings' });
      await completeIdempotencyKey(tx, { scope: 'client', key: 'k1', status: 201, body: { tenant: tenantOf(tenant) }, response: '{}' });
    });
  }
  const message = {
    channel: 'hl7v2' as const,
    sender: 'HIS',
    controlId: 'MSG-1',
    messageType: 'ADT^A03',
    content: 'MSH|…',
    status: 'accepted' as const,
  };
  const messageA = await storeInboundMessage(a, message);
  const messageB = await storeInboundMessage(b, message);

  const bRowsBefore = await db.query("SELECT * FROM resources WHERE tenant_id = 'B' ORDER BY id");
  const updatedByA = await a.query<{ id: string }>('UPDATE resources SET last_updated = last_updated RETURNING id');
  const deletedByA = await a.query<{ id: string }>("DELETE FROM screenings WHERE id = 'screening-b' RETURNING id");
  const deletedOutboxByA = await a.query('DELETE FROM outbox RETURNING id');
  const bRowsAfter = await db.query("SELECT * FROM resources WHERE tenant_id = 'B' ORDER BY id");

  return {
    samePatient: inA.patient.id === inB.patient.id,
    createdInBoth: inA.created && inB.created,
    createdAgainInB: againInB.created,
    identifierInA: (await patientIdFor(a, MRN)) === inA.patient.id,
    identifierInB: (await patientIdFor(b, MRN)) === inB.patient.id,
    // The query that forgets the tenant: no WHERE, no join, and still only A's rows.
    aSelectsAll: (await a.query<{ id: string }>("SELECT id FROM resources WHERE resource_type = 'Observation'")).map((r) => r.id),
    aSeesTenants: await visibleTenants(a),
    bSeesTenants: await visibleTenants(b),
    deploymentSeesTenants: await visibleTenants(db),
    aReadsB: (await readResource(a, 'Observation', 'obs-b')) !== undefined,
    aSearchesB: (await searchResources(a, 'Observation', { patient: bPatient })).total,
    aGetsBScreening: (await getScreening(a, 'screening-b')) !== undefined,
    aUpdatedOnlyOwn: updatedByA.every((r) => r.id !== 'obs-b' && r.id !== bPatient),
    aDeleted: [...deletedByA, ...deletedOutboxByA].length,
    bRowsUnchanged: JSON.stringify(bRowsAfter) === JSON.stringify(bRowsBefore) && bRowsBefore.length === 2,
    bScreeningKept: (await getScreening(b, 'screening-b')) !== undefined,
    aInsertsForB: await outcome(() =>
      a.query(
        `INSERT INTO resources (resource_type, id, version_id, content, patient_id, last_updated, tenant_id)
         VALUES ('Observation', 'planted', 1, '{}'::jsonb, NULL, now(), 'B')`,
      ),
    ),
    aMovesOwnRowToB: await outcome(() => a.query("UPDATE resources SET tenant_id = 'B' WHERE id = 'obs-a'")),
    idempotencyPerTenant: [
      (await findIdempotentResponse(a, 'client', 'k1'))?.body,
      (await findIdempotentResponse(b, 'client', 'k1'))?.body,
    ],
    sameMessageStoredInBoth: messageA.created && messageB.created && messageA.message.id !== messageB.message.id,
    // The relay reads every tenant's work, and knows whose it is.
    outboxTenants: (await listUndispatched(db, { limit: 10 })).map((row) => row.tenantId),
    roleInTenantTransaction: (await a.query<{ role: string }>('SELECT current_user AS role'))[0]?.role,
    roleAfterwards: (await db.query<{ role: string }>('SELECT current_user AS role'))[0]?.role !== 'kap_tenant',
    // The compiler refuses a tenant's handle where the deployment's is asked for; forced, it is refused still.
    rescopedToB: await outcome(async () => forTenant(a as unknown as DeploymentDb, 'B')),
    // A tenant row written without a tenant (the deployment's handle) fails: it lands in no tenant's rows.
    deploymentWritesTenantRow: await outcome(() =>
      db.query(
        `INSERT INTO resources (resource_type, id, version_id, content, patient_id, last_updated)
         VALUES ('Observation', 'orphan', 1, '{}'::jsonb, NULL, now())`,
      ),
    ),
    deploymentWritesOutbox: await outcome(() => db.query(`INSERT INTO outbox (topic, payload) VALUES ('ehr-sync', '{}'::jsonb)`)),
    // Messages no tenant claims are the deployment's: no tenant's transaction reads them.
    aReadsUnrouted: await outcome(() => a.query('SELECT id FROM unrouted_messages')),
  };
}

export const TENANT_ISOLATION_EXPECTED: Record<string, unknown> = {
  samePatient: false,
  createdInBoth: true,
  createdAgainInB: false,
  identifierInA: true,
  identifierInB: true,
  aSelectsAll: ['obs-a'],
  aSeesTenants: ['A'],
  bSeesTenants: ['B'],
  deploymentSeesTenants: ['A', 'B'],
  aReadsB: false,
  aSearchesB: 0,
  aGetsBScreening: false,
  aUpdatedOnlyOwn: true,
  aDeleted: 0,
  bRowsUnchanged: true,
  bScreeningKept: true,
  aInsertsForB: 'refused by row-level security',
  aMovesOwnRowToB: 'refused by row-level security',
  idempotencyPerTenant: [{ tenant: 'A' }, { tenant: 'B' }],
  sameMessageStoredInBoth: true,
  outboxTenants: ['B'],
  roleInTenantTransaction: 'kap_tenant',
  roleAfterwards: true,
  rescopedToB: 'Error: This handle is already scoped to a tenant',
  deploymentWritesTenantRow: 'refused: no tenant',
  deploymentWritesOutbox: 'refused: no tenant',
  aReadsUnrouted: 'permission denied',
};
