import { storeInboundMessage, type NewInboundMessage, type StoredInbound, type TenantDb } from '@kap/store';
import { enqueueWork } from './enqueue';
import { WORK } from './units';

/**
 * A message from the hospital (HL7 v2 or a FHIR notification), stored in one transaction
 * with, when it is accepted and new, the work that has the worker apply it: whatever was
 * acknowledged is applied, once, even if Redis or a worker fails. `db` is the tenant's
 * handle the message was addressed to; the worker applies it as that tenant.
 */
export async function receiveInboundMessage(db: TenantDb, message: NewInboundMessage): Promise<StoredInbound> {
  return db.transaction(async (tx) => {
    const stored = await storeInboundMessage(tx, message);
    if (stored.created && stored.message.status === 'accepted') {
      await enqueueWork(tx, WORK.inboundMessage, { inboundMessageId: stored.message.id }, {});
    }
    return stored;
  });
}
