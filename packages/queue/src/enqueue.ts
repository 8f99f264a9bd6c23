import { enqueueOutbox, type Db, type Instant, type OutboxPayload, type OutboxRow } from '@kap/store';
import { withTenant, type WorkUnit } from './units';

export interface EnqueueOptions {
  /** Whose work it is: its jobs run as this tenant, with its database rows, EHR and webhooks. */
  readonly tenantId: string;
  readonly patientId?: string | null;
  /** Not to be dispatched before this instant (default now). */
  readonly availableAt?: Instant;
}

/**
 * Asks for a unit of background work, in the caller's transaction (the transactional
 * outbox): it is dispatched only if the transaction commits, and never lost once it has.
 * The payload is checked here, so a row the relay cannot read is never written. The tenant
 * is written beside it: the relay reads rows of every tenant and must hand each job its own.
 */
export async function enqueueWork<P>(tx: Db, unit: WorkUnit<P>, payload: P, options: EnqueueOptions): Promise<OutboxRow> {
  const checked = withTenant(unit.payload.parse(payload), options.tenantId) as unknown as OutboxPayload;
  return enqueueOutbox(tx, {
    topic: unit.topic,
    payload: checked,
    ...(options.patientId !== undefined ? { patientId: options.patientId } : {}),
    ...(options.availableAt !== undefined ? { availableAt: options.availableAt } : {}),
  });
}
