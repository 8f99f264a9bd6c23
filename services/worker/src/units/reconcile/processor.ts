import { writeSettingsFrom } from '@kap/ehr-client';
import { ReconcileJobData, WORK, enqueueWork } from '@kap/queue';
import {
  finishReconciliation,
  getReconciliation,
  markCompleted,
  markForResync,
  patientsWaitingForEhrPatient,
  type ReconciledResource,
} from '@kap/store';
import { UnrecoverableError, type Job } from 'bullmq';
import type { WorkerDeps } from '../../deps';
import { reconcileWithEhr } from '../../sync/reconcile';
import { tenantWork } from '../../tenant-work';

/**
 * One reconciliation: reads the tenant's EHR, records per resource what it found, and puts what is
 * missing or different back in line for the EHR (one sync asked for per patient concerned),
 * in one transaction with the results.
 */
export function reconcileProcessor(deps: WorkerDeps) {
  return async (job: Job): Promise<string> => {
    const { reconciliationId, outboxKey, tenantId } = ReconcileJobData.parse(job.data);
    const t = tenantWork(deps, tenantId);
    const reconciliation = await getReconciliation(t.db, reconciliationId);
    if (!reconciliation) throw new UnrecoverableError(`Reconciliation ${reconciliationId} is not stored`);
    if (reconciliation.finishedAt) {
      await markCompleted(t.db, outboxKey);
      return 'already finished';
    }
    const found = await reconcileWithEhr(t.db, t.ehr, writeSettingsFrom(t.config), reconciliation.patientId ?? undefined);
    const results: ReconciledResource[] = found.map((r) => ({ ...r, requeued: r.status !== 'in-ehr' }));
    const again = results.filter((r) => r.requeued);
    await t.db.transaction(async (tx) => {
      await markForResync(
        tx,
        again.map((r) => {
          const [type, id] = r.resource.split('/') as [string, string];
          return { type, id, missing: r.status === 'missing' };
        }),
      );
      const patients = new Set(again.map((r) => r.patient.slice('Patient/'.length)));
      // Syncs waiting for the hospital's Patient look for it again now.
      for (const p of await patientsWaitingForEhrPatient(tx, reconciliation.patientId ?? undefined)) patients.add(p);
      for (const patientId of patients) await enqueueWork(tx, WORK.ehrSync, { patientId, reason: 'reconcile' }, { patientId });
      await finishReconciliation(tx, reconciliationId, { results });
      await markCompleted(tx, outboxKey);
    });
    deps.logger.info({ tenant: tenantId, reconciliationId, checked: results.length, requeued: again.length }, 'reconciliation done');
    return `${results.length} checked, ${again.length} queued again`;
  };
}
