/**
 * The PGlite integration scenario, run by pglite.test.ts in child Node processes: PGlite
 * loads its runtime with dynamic `import()`, which Jest's CommonJS sandbox refuses unless
 * started with --experimental-vm-modules. A second process reopening the data directory
 * is also the honest test of durability. Test-only; not exported from the package.
 */
import type { Observation } from '@medplum/fhirtypes';
import { insertAuditEvents, searchAuditEvents } from './audit-events';
import { insertCourse } from './courses';
import { openDatabase } from './open-database';
import { getFollowUp, insertFollowUps } from './follow-ups';
import { migrate } from './migrations';
import { countPending, enqueueOutbox, onOutboxWork } from './outbox';
import { ensurePatient } from './patients';
import { putResources, readResource, readResourceVersion, searchResources } from './resources';
import { insertScreening } from './screenings';
import { getSyncStates, markPending, markSynced } from './sync-state';
import { forTenant } from './tenant';
import { tenantIsolationScenario } from './tenant-scenario';

const IDENTIFIER = { system: 'urn:mrn', value: 'L-1' };

/** First process: migrate a new data directory and write through every kind of repository. */
export async function writePhase(dataDir: string): Promise<Record<string, unknown>> {
  const deployment = await openDatabase({ dataDir, schema: 'kap' });
  const db = forTenant(deployment, 'default');
  try {
    await db.ping();
    const versions = await deployment.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    const { patient, created } = await ensurePatient(db, IDENTIFIER, () => ({ resourceType: 'Patient' }));
    const obs: Observation = {
      resourceType: 'Observation',
      id: 'lite-obs',
      status: 'final',
      code: { text: 'heart rate' },
      subject: { reference: `Patient/${patient.id}` },
      valueQuantity: { value: 60 },
    };
    let notified = 0;
    const unlisten = await onOutboxWork(deployment, () => (notified += 1));
    await db.transaction(async (tx) => {
      const [stored] = await putResources(tx, [obs]);
      await markPending(tx, [{ type: 'Observation', id: 'lite-obs', version: Number(stored?.meta?.versionId) }]);
      await enqueueOutbox(tx, { topic: 'ehr-sync', patientId: patient.id, payload: { patientId: patient.id ?? '' } });
    });
    // PGlite delivers a notification after the commit, on its own tick.
    for (let i = 0; i < 100 && notified === 0; i++) await new Promise((r) => setImmediate(r));
    await unlisten();
    const [v2] = await putResources(db, [{ ...obs, valueQuantity: { value: 61 } }]);
    await markSynced(db, { type: 'Observation', id: 'lite-obs', localVersion: 1, ehrId: 'e1', ehrVersion: 'x' });
    await insertScreening(db, { id: 's1', patientId: 'p', outcome: 'eligible', reasons: [], resourceRefs: {}, performedAt: new Date() });
    const course = await insertCourse(db, { screeningId: 's1', patientId: 'p', carePlanId: 'cp', startDate: '2025-01-02' });
    if (!course) throw new Error('course not stored');
    const [followUp] = await insertFollowUps(db, [
      { id: 'fu-1', courseId: course.id, sessionNumber: 1, sequence: 1, dueBy: '2025-01-03T00:00:00Z' },
    ]);
    // A nested transaction reuses the outer one, so the rollback takes its write too.
    const rolledBack = await db
      .transaction(async (tx) => {
        await tx.transaction(async (inner) => putResources(inner, [{ ...obs, id: 'lite-gone' }]));
        throw new Error('abort');
      })
      .catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
    await insertAuditEvents(db, [
      {
        event: {
          resourceType: 'AuditEvent',
          id: 'lite-audit',
          recorded: '2025-01-02T00:00:00Z',
          type: { code: 'rest' },
          agent: [{ requestor: true }],
          source: { observer: { display: 'x' } },
        },
        patientId: 'p',
      },
    ]);
    return {
      kind: db.kind,
      versions: versions.map((v) => v.version),
      patientId: patient.id,
      created,
      secondVersion: v2?.meta?.versionId,
      startDate: course.startDate,
      followUp,
      rolledBack,
      goneAfterRollback: (await readResource(db, 'Observation', 'lite-gone')) === undefined,
      outboxNotified: notified,
    };
  } finally {
    await deployment.close();
  }
}

/** Second process: reopen the same directory and read everything back. */
export async function readPhase(dataDir: string): Promise<Record<string, unknown>> {
  const deployment = await openDatabase({ dataDir, schema: 'kap' });
  const db = forTenant(deployment, 'default');
  try {
    const again = await ensurePatient(db, IDENTIFIER, () => ({ resourceType: 'Patient' }));
    return {
      migratedAgain: await migrate(deployment, { schema: 'kap' }),
      current: (await readResource<Observation>(db, 'Observation', 'lite-obs'))?.valueQuantity?.value,
      first: (await readResourceVersion<Observation>(db, 'Observation', 'lite-obs', 1))?.valueQuantity?.value,
      byPatient: (await searchResources(db, 'Observation', { patient: again.patient.id })).total,
      patientId: again.patient.id,
      created: again.created,
      pendingOutbox: await countPending(deployment),
      sync: (await getSyncStates(db, [{ type: 'Observation', id: 'lite-obs' }]))[0],
      followUp: await getFollowUp(db, 'fu-1'),
      audited: (await searchAuditEvents(db, { patient: 'p', count: 10, offset: 0 })).resources.map((r) => r.id),
    };
  } finally {
    await deployment.close();
  }
}

/** Two tenants in a fresh data directory: PGlite has roles and row-level security, so the same isolation holds. */
export async function tenantPhase(dataDir: string): Promise<Record<string, unknown>> {
  const db = await openDatabase({ dataDir, schema: 'kap' });
  try {
    return await tenantIsolationScenario(db);
  } finally {
    await db.close();
  }
}
