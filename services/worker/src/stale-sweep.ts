import { parseDurationMs } from '@kap/domain';
import { WORK, enqueueWork } from '@kap/queue';
import { forTenant, stalePendingPatients } from '@kap/store';
import type { WorkerDeps } from './deps';
import { recordStaleRequeues } from './metrics';
import { tenantsOf } from './tenant-work';

/** The reason a sweep's re-queue carries; /metrics counts the rows with it. */
export const STALE_REQUEUE_REASON = 'stale-requeue';

/**
 * One pass of the light sweep behind the outbox: a patient with a change pending longer
 * than SYNC_STALE_AFTER and no sync job asked for gets one. It does not trust that every
 * path which stored a change also asked for its sync; it costs one indexed query a pass per
 * tenant. Each tenant is swept through its own handle, so a re-queued sync carries the
 * tenant whose EHR it belongs to. Returns the patients re-queued.
 */
export async function sweepStaleOnce(deps: WorkerDeps): Promise<string[]> {
  const patients: string[] = [];
  for (const tenantId of tenantsOf(deps).ids) {
    const db = forTenant(deps.db, tenantId);
    for (const patientId of await stalePendingPatients(db, WORK.ehrSync.topic, parseDurationMs(deps.config.SYNC_STALE_AFTER))) {
      await enqueueWork(db, WORK.ehrSync, { patientId, reason: STALE_REQUEUE_REASON }, { patientId });
      patients.push(patientId);
    }
  }
  if (patients.length > 0) {
    recordStaleRequeues(patients.length);
    deps.logger.warn({ patients: patients.length }, 'changes pending past SYNC_STALE_AFTER with no sync asked for: re-queued');
  }
  return patients;
}

/** Runs the sweep every SYNC_STALE_SWEEP_MS until stopped; a failing pass is logged and retried. */
export function startStaleSweep(deps: WorkerDeps): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = sweepStaleOnce(deps).catch((err: unknown) =>
      deps.logger.warn({ err: err instanceof Error ? err.message : err }, 'stale sweep failed; will retry'),
    );
  }, deps.config.SYNC_STALE_SWEEP_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
