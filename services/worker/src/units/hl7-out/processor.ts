import { parseDurationMs } from '@kap/domain';
import { assigningAuthorities, hl7OutDestination, type Config } from '@kap/config';
import { V2BuildError, buildMdm, buildOru, unversionedReplacedId, type V2OutSettings } from '@kap/fhir';
import { Hl7OutJobData, WORK, unitPayload } from '@kap/queue';
import { getOutboxMessageByKey, hl7OutPrecedence, listResourceHistory, markCompleted, readResource, readResourceVersion } from '@kap/store';
import type { DocumentReference, Observation, Patient } from '@medplum/fhirtypes';
import { UnrecoverableError, type Job } from 'bullmq';
import type { WorkerDeps } from '../../deps';
import { senderFor } from '../../hl7-out/senders';
import { tenantWork } from '../../tenant-work';
import { retryLater } from '../lease-and-rate';

/** When an earlier message of the same patient is still on its way, look again this soon. */
const ORDER_WAIT_MS = 500;

/** What MSH and PID are built from, for a tenant's configuration. */
export function v2OutSettings(config: Config, processingId: 'P' | 'T' = 'P'): V2OutSettings {
  return {
    sendingApplication: config.HL7_OUT_SENDING_APPLICATION,
    sendingFacility: config.HL7_OUT_SENDING_FACILITY,
    ...(config.HL7_OUT_RECEIVING_APPLICATION ? { receivingApplication: config.HL7_OUT_RECEIVING_APPLICATION } : {}),
    ...(config.HL7_OUT_RECEIVING_FACILITY ? { receivingFacility: config.HL7_OUT_RECEIVING_FACILITY } : {}),
    // PID-3 as the inbound feed reads it: the same authority ↔ system pairs, the other way round.
    authorityBySystem: new Map([...assigningAuthorities(config)].map(([authority, system]) => [system, authority])),
    processingId,
  };
}

/**
 * One `hl7-out` job: one stored resource version as ORU^R01 or MDM^T02 to the tenant's
 * interface engine, with the MSH-10 its row was given (the same on every retry). `AA` (or
 * `CA`) completes the row; `AE`/`AR` (or `CE`/`CR`) make it a dead letter with the engine's
 * MSA-3/ERR text, re-driven once fixed; no connection, a dropped link or no ACK in time is
 * retried with backoff. A patient's messages go in the order they were saved: one waits
 * while an earlier one is neither delivered nor dead.
 */
export function hl7OutProcessor(deps: WorkerDeps) {
  return async (job: Job, token?: string): Promise<string> => {
    const { outboxKey, tenantId } = Hl7OutJobData.parse(job.data);
    const t = tenantWork(deps, tenantId);
    const row = await getOutboxMessageByKey(t.db, outboxKey);
    if (!row || row.completedAt) return 'obsolete';
    const message = WORK.hl7Out.payload.parse(unitPayload(row.payload));
    const destination = hl7OutDestination(t.config);
    if (!destination) throw new UnrecoverableError(`HL7_OUT_HOST and HL7_OUT_PORT are not set for tenant "${tenantId}"`);

    const order = await hl7OutPrecedence(t.db, WORK.hl7Out.topic, { id: row.id, patientId: row.patientId, controlId: message.controlId });
    if (order.alreadyDelivered) {
      await markCompleted(t.db, outboxKey);
      return 'already delivered';
    }
    if (order.earlierOpen > 0) {
      return retryLater(job, token, ORDER_WAIT_MS, ORDER_WAIT_MS);
    }

    const ref = `${message.resourceType}/${message.resourceId}/_history/${message.version}`;
    const resource = await readResourceVersion(t.db, message.resourceType, message.resourceId, message.version);
    if (!resource) throw new UnrecoverableError(`${ref} is not stored`);
    const patient = row.patientId ? await readResource<Patient>(t.db, 'Patient', row.patientId) : undefined;
    if (!patient) throw new UnrecoverableError(`${ref}: its patient is not stored`);
    const now = (deps.now ?? (() => new Date()))();
    // TXA-13 names the replaced note as its own message did (TXA-12): its last version still
    // `current`, since the version that marks it superseded is not sent.
    const replacedId = message.messageType === 'MDM^T02' ? unversionedReplacedId(resource as DocumentReference) : undefined;
    const replacedVersion = replacedId
      ? (await listResourceHistory<DocumentReference>(t.db, 'DocumentReference', replacedId)).filter((v) => v.status === 'current').pop()
          ?.meta?.versionId
      : undefined;
    let text: string;
    try {
      const settings = v2OutSettings(t.config);
      text = (
        message.messageType === 'MDM^T02'
          ? buildMdm(resource as DocumentReference, patient, message.controlId, settings, now, replacedVersion ? { replacedVersion } : {})
          : buildOru(resource as Observation, patient, message.controlId, settings, now)
      ).toString();
    } catch (err) {
      if (err instanceof V2BuildError) throw new UnrecoverableError(`${message.messageType} not built: ${err.message}`);
      throw err;
    }

    // A failed send is counted on the row by the worker's failed handler, as every unit's is.
    const ack = await senderFor(deps, destination).send(text, message.controlId, parseDurationMs(t.config.HL7_OUT_ACK_TIMEOUT));
    if (ack.code === 'AA' || ack.code === 'CA') {
      await markCompleted(t.db, outboxKey);
      deps.logger.info({ job: job.id, controlId: message.controlId, type: message.messageType }, 'hl7 v2 message acknowledged');
      return ack.code;
    }
    throw new UnrecoverableError(`interface engine answered ${ack.code || '(no MSA-1)'}: ${ack.text || '(no text)'}`.slice(0, 1000));
  };
}
