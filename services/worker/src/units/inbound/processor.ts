import { InboundMessageJobData, PatientUpdateJobData } from '@kap/queue';
import type { Job } from 'bullmq';
import type { WorkerDeps } from '../../deps';
import { applyInboundMessage } from '../../inbound/apply-message';
import { pushPatientDemographics } from '../../inbound/push-demographics';
import { tenantWork } from '../../tenant-work';
import { rethrowEhrFailure, withLease } from '../lease-and-rate';

/**
 * The `ehr-inbound` queue's two units. `inbound-message` applies a stored hospital message;
 * `patient-demographics` pushes demographics it changed to the EHR, holding the patient's
 * EHR-write lease like the sync does. A 429 waits as long as the EHR asks; a 4xx no
 * retry can fix goes to the dead letters.
 */
export function inboundMessageProcessor(deps: WorkerDeps) {
  return async (job: Job, token?: string): Promise<string> => {
    try {
      const data = InboundMessageJobData.parse(job.data);
      const t = tenantWork(deps, data.tenantId);
      return await applyInboundMessage({ ...t, logger: deps.logger, ...(deps.now ? { now: deps.now } : {}) }, data);
    } catch (err) {
      return rethrowEhrFailure(err, job, token, 'EHR refused');
    }
  };
}

export function patientDemographicsProcessor(deps: WorkerDeps) {
  return async (job: Job, token?: string): Promise<string> => {
    try {
      const data = PatientUpdateJobData.parse(job.data);
      const t = tenantWork(deps, data.tenantId);
      return await withLease(deps, t.db, job, token, `patient/${data.patientId}`, () =>
        pushPatientDemographics({ ...t, ...(deps.now ? { now: deps.now } : {}) }, data),
      );
    } catch (err) {
      return rethrowEhrFailure(err, job, token, 'EHR refused');
    }
  };
}
