import { isEhrError } from '@kap/ehr-client';
import { InboundMessageJobData, PatientUpdateJobData } from '@kap/queue';
import { acquireLease, releaseLease } from '@kap/store';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { WorkerDeps } from '../deps';
import { applyInboundMessage } from '../inbound/apply-message';
import { pushPatientDemographics } from '../inbound/push-demographics';
import { tenantWork } from '../tenant-work';

const LEASE_BUSY_RETRY_MS = 300;

/**
 * The `ehr-inbound` queue: `inbound-message` applies a stored hospital message;
 * `patient-demographics` pushes demographics it changed to the EHR, holding the patient's
 * EHR-write lease like the sync does. A 429 waits as long as the EHR asks; a 4xx no
 * retry can fix goes to the dead letters.
 */
export function inboundProcessor(deps: WorkerDeps) {
  return async (job: Job, token?: string): Promise<string> => {
    try {
      if (job.name === 'patient-demographics') {
        const data = PatientUpdateJobData.parse(job.data);
        const t = tenantWork(deps, data.tenantId);
        const leaseKey = `patient/${data.patientId}`;
        const holder = `${deps.workerId}/${job.id}`;
        if (!(await acquireLease(t.db, leaseKey, holder, deps.config.SYNC_LEASE_MS))) {
          await job.moveToDelayed(Date.now() + LEASE_BUSY_RETRY_MS + Math.floor(Math.random() * LEASE_BUSY_RETRY_MS), token);
          throw new DelayedError();
        }
        try {
          return await pushPatientDemographics(t, data);
        } finally {
          await releaseLease(t.db, leaseKey, holder).catch(() => undefined);
        }
      }
      const data = InboundMessageJobData.parse(job.data);
      const t = tenantWork(deps, data.tenantId);
      return await applyInboundMessage({ ...t, logger: deps.logger, ...(deps.now ? { now: deps.now } : {}) }, data);
    } catch (err) {
      if (isEhrError(err) && err.kind === 'rate-limited') {
        await job.moveToDelayed(Date.now() + (err.retryAfterMs ?? 30_000), token);
        throw new DelayedError();
      }
      if (isEhrError(err) && !err.transient) throw new UnrecoverableError(`EHR refused: ${err.message}`);
      throw err;
    }
  };
}
