import { writeSettingsFrom } from '@kap/ehr-client';
import { EhrSyncJobData, WORK } from '@kap/queue';
import { completeOutboxRows, getOutboxMessageByKey, listOpenOutboxIds, markCompletedWithCovered, noteSyncAttemptError } from '@kap/store';
import { DelayedError, type Job } from 'bullmq';
import type { WorkerDeps } from '../../deps';
import { tenantWork } from '../../tenant-work';
import { syncPatient, type SyncOutcome } from '../../sync/sync-patient';
import { rethrowEhrFailure, retryLater, withLease } from '../lease-and-rate';

const NOTHING_TO_DO: SyncOutcome = { written: 0, unchanged: 0, notSent: 0, requests: 0 };

/** Rechecks for a missing Patient: every `baseMs` at first, then about as long as it has waited, up to 64 × `baseMs`. */
export function patientRecheckDelay(baseMs: number, waitedMs: number): number {
  return Math.min(baseMs * 64, Math.max(baseMs, Math.floor(waitedMs)));
}

/**
 * One `ehr-sync` job: syncs the patient's unsynced resources to the EHR of the patient's
 * tenant, through that tenant's database handle, then completes its outbox row
 * (by the row's key, which no other database or restore reuses).
 * Throws to retry with backoff; 429 waits as long as the EHR asks without spending an
 * attempt; a 4xx that no retry can fix goes straight to the dead letters.
 */
export function ehrSyncProcessor(deps: WorkerDeps) {
  return async (job: Job, token?: string): Promise<SyncOutcome> => {
    const data = EhrSyncJobData.parse(job.data);
    const t = tenantWork(deps, data.tenantId);
    // Another row's sync already did this one's work (see below): nothing to wait for.
    const row = await getOutboxMessageByKey(t.db, data.outboxKey);
    if (row?.completedAt) return NOTHING_TO_DO;
    return withLease(deps, t.db, job, token, `patient/${data.patientId}`, async () => {
      try {
        // The patient's open sync rows, read before the sync reads the patient's data: each was
        // committed with its data, so the sync sends that data too, and its row is done with
        // this one's. A row committed after this read waits for a sync of its own.
        const covered = await listOpenOutboxIds(t.db, WORK.ehrSync.topic, data.patientId);
        const outcome = await syncPatient(t.db, t.ehr, data.patientId, { settings: writeSettingsFrom(t.config) });
        if (outcome.waitingForPatient) {
          // The row stays open and its job comes back by itself; an ADT for the patient or a
          // reconcile asks for a sync sooner. The wait grows with how long it has waited.
          const waitedMs = row ? Date.now() - Date.parse(row.createdAt) : 0;
          const delay = patientRecheckDelay(t.config.EHR_PATIENT_RECHECK_MS, waitedMs);
          // One job per patient does the waiting: this row stays open (the relay brings its job
          // back if Redis loses it), and the sync it resumes sends what the others were for.
          if (row)
            await completeOutboxRows(
              t.db,
              covered.filter((id) => id !== row.id),
            );
          deps.logger.info({ job: job.id, outboxKey: data.outboxKey, recheckInMs: delay }, 'ehr sync waits for the hospital Patient');
          return retryLater(job, token, delay);
        }
        // Completed here, with the EHR's answers recorded, and nowhere else.
        const { held, alsoCompleted } = await markCompletedWithCovered(t.db, data.outboxKey, covered);
        if (!held) deps.logger.warn({ job: job.id, outboxKey: data.outboxKey }, 'ehr sync for an outbox row this database does not hold');
        deps.logger.info({ job: job.id, outboxKey: data.outboxKey, alsoCompleted, ...outcome }, 'ehr sync done');
        return outcome;
      } catch (err) {
        if (!(err instanceof DelayedError)) {
          const message = err instanceof Error ? err.message : String(err);
          await noteSyncAttemptError(t.db, data.patientId, message).catch(() => undefined);
        }
        return rethrowEhrFailure(err, job, token, 'EHR refused the sync');
      }
    });
  };
}
