import { clinicTimeZone, escalationWebhookUrls } from '@kap/config';
import { formatClinicTime, parseDurationMs } from '@kap/domain';
import { buildAlertStepRecords } from '@kap/fhir';
import { SafetyAlertJobData, WORK, saveForSync, workRequest } from '@kap/queue';
import { advanceSafetyAlert, getSafetyAlert, markCompleted, readResource, tenantOf } from '@kap/store';
import type { Flag } from '@medplum/fhirtypes';
import { auditAdapterWrites } from '../../audit';
import type { Job } from 'bullmq';
import type { WorkerDeps } from '../../deps';
import { tenantWork } from '../../tenant-work';

/**
 * A safety alert's acknowledgement deadline. Still open when it comes (nobody acknowledged
 * or resolved it; a stopped course does not matter), the alert escalates: a `stat`
 * Communication about the Flag to SAFETY_ESCALATION_WEBHOOK_URLS (else the webhooks), the
 * escalation in the alert's history, and the next deadline one interval on. All in one
 * transaction that also completes this deadline's outbox row: a job run again after a crash
 * finds the escalation recorded and sends nothing more, and a delivery retried after a crash
 * carries the same delivery id (X-KAP-Delivery) for the subscriber to drop.
 */
export function safetyAlertEscalationProcessor(deps: WorkerDeps) {
  return async (job: Job): Promise<string> => escalateSafetyAlert(deps, job.data);
}

/** One deadline's escalation, as `safetyAlertEscalationProcessor` runs it on a job's data. */
export async function escalateSafetyAlert(deps: WorkerDeps, jobData: unknown): Promise<string> {
  const data = SafetyAlertJobData.parse(jobData);
  const t = tenantWork(deps, data.tenantId);
  return t.db.transaction(async (tx) => {
    const done = async (why: string): Promise<string> => {
      await markCompleted(tx, data.outboxKey);
      return why;
    };
    const alert = await getSafetyAlert(tx, data.alertId);
    if (!alert) return done('obsolete: unknown alert');
    if (alert.status !== 'open') return done(`obsolete: ${alert.status}`);
    if (alert.escalations >= data.escalation) return done(`already escalated (${alert.escalations})`);
    const at = (deps.now ?? (() => new Date()))();
    const flag = await readResource<Flag>(tx, 'Flag', alert.flagId);
    const timeZone = clinicTimeZone(t.config);
    const window = parseDurationMs(t.config.SAFETY_ALERT_ACK_WITHIN);
    const waited = Math.round((at.getTime() - Date.parse(alert.raisedAt)) / 60_000);
    const { communication, provenance } = buildAlertStepRecords({
      alertId: alert.id,
      step: `escalation/${data.escalation}`,
      patient: { reference: `Patient/${alert.patientId}` },
      flag: { reference: `Flag/${alert.flagId}` },
      text:
        `ESCALATION ${data.escalation}: safety alert raised ${formatClinicTime(alert.raisedAt, timeZone)} not acknowledged after ${waited} minutes. ` +
        `${flag?.code.text ?? 'Safety alert'} Please assess the patient's safety now and acknowledge the alert.`,
      at: at.toISOString(),
    });
    const advanced = await advanceSafetyAlert(tx, alert.id, ['open'], {
      status: 'open',
      event: { at: at.toISOString(), event: 'escalated', escalation: data.escalation, communication: `Communication/${communication.id}` },
    });
    if (!advanced) return done('obsolete: acknowledged meanwhile');
    // The next deadline one interval after this one; after an outage, the next one still ahead, not a burst of missed ones.
    let next = Date.parse(data.dueAt) + window;
    while (next <= at.getTime()) next += window;
    const timer = workRequest(
      WORK.safetyAlertEscalation,
      { alertId: alert.id, escalation: data.escalation + 1, dueAt: new Date(next).toISOString() },
      { patientId: alert.patientId },
    );
    await saveForSync(tx, alert.patientId, [communication, provenance], {
      reason: 'safety-alert-escalation',
      webhookUrls: escalationWebhookUrls(t.config),
      alsoEnqueue: [timer],
    });
    // The adapter wrote this patient's data on its own: the trail names the alert it escalated.
    await auditAdapterWrites(
      tx,
      t.config,
      'worker/safety-alert-escalation',
      [
        {
          patientId: alert.patientId,
          interaction: 'create',
          resources: [`Communication/${communication.id}`, `Provenance/${provenance.id}`],
          cause: {
            kind: 'safety-alert',
            id: alert.id,
            description: `safety alert not acknowledged in time: escalation ${data.escalation}`,
          },
        },
      ],
      at,
    );
    await markCompleted(tx, data.outboxKey);
    deps.logger.warn(
      { tenant: tenantOf(t.db), alert: alert.id, escalation: data.escalation },
      'safety alert escalated: not acknowledged in time',
    );
    return `escalated (${data.escalation})`;
  });
}
