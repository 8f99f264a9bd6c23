import { randomUUID } from 'node:crypto';
import { publicBaseUrl, type Config } from '@kap/config';
import { buildAdapterWriteAuditEvent, type AdapterWriteCause } from '@kap/fhir';
import { saveForSync } from '@kap/queue';
import { insertAuditEvents, type TenantDb } from '@kap/store';
import type { AuditEvent } from '@medplum/fhirtypes';

/** One write of a patient's data the worker made on its own. */
export interface AdapterWrite {
  readonly patientId: string;
  readonly interaction: 'create' | 'update';
  /** `Type/id` of what was written besides the Patient. */
  readonly resources?: readonly string[];
  readonly cause: AdapterWriteCause;
}

/**
 * Records the worker's own writes of patient data (a hospital message applied, a safety
 * alert escalated) in the tenant's audit trail, in the transaction of the write, as the API
 * records a client's: one AuditEvent per patient, the adapter (`actor`, e.g.
 * `worker/ehr-inbound`) as the requesting agent and the cause as an entity. The tenant is the
 * handle's; with EHR_SYNC_AUDIT the events go to the EHR too, as the API's do.
 */
export async function auditAdapterWrites(
  tx: TenantDb,
  config: Config,
  actor: string,
  writes: readonly AdapterWrite[],
  at: Date,
): Promise<AuditEvent[]> {
  if (writes.length === 0) return [];
  const baseUrl = `${publicBaseUrl(config)}/fhir/R4`;
  const events = writes.map((w) =>
    buildAdapterWriteAuditEvent({
      id: randomUUID(),
      recorded: at.toISOString(),
      interaction: w.interaction,
      baseUrl,
      actor,
      patientId: w.patientId,
      ...(w.resources ? { resources: w.resources } : {}),
      cause: w.cause,
    }),
  );
  await insertAuditEvents(
    tx,
    events.map((event, i) => ({ event, patientId: (writes[i] as AdapterWrite).patientId })),
  );
  if (config.EHR_SYNC_AUDIT) {
    for (const [i, event] of events.entries()) await saveForSync(tx, (writes[i] as AdapterWrite).patientId, [event], { reason: 'audit' });
  }
  return events;
}
