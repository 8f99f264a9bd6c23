import {
  enqueueOutboxMarkingPending,
  outboxMarkingPending,
  type NewOutboxMessage,
  type WriteStatement,
  type Instant,
  type OutboxPayload,
  type OutboxRow,
  type ResourceVersionRef,
  type TenantDb,
} from '@kap/store';
import type { WorkUnit } from './units';

export interface EnqueueOptions {
  readonly patientId?: string | null;
  /** Not to be dispatched before this instant (default now). */
  readonly availableAt?: Instant;
}

/** One unit of work a command asks for: what `enqueueWork` takes, as a value (made by `workRequest`). */
export interface WorkRequest {
  readonly unit: WorkUnit<unknown>;
  readonly payload: unknown;
  readonly options: EnqueueOptions;
}

/** A work request; the payload is checked against its unit's type here, where the unit is known. */
export function workRequest<P>(unit: WorkUnit<P>, payload: P, options: EnqueueOptions): WorkRequest {
  return { unit: unit as unknown as WorkUnit<unknown>, payload, options };
}

/**
 * Asks for a unit of background work, in the caller's transaction (the transactional
 * outbox): it is dispatched only if the transaction commits, and never lost once it has.
 * The payload is checked here, so a row the relay cannot read is never written. The row is
 * the handle's tenant's (its `tenant_id` column): the relay reads rows of every tenant and
 * hands each job the tenant of its row; its jobs run with that tenant's data, EHR and webhooks.
 */
export async function enqueueWork<P>(tx: TenantDb, unit: WorkUnit<P>, payload: P, options: EnqueueOptions): Promise<OutboxRow> {
  const [row] = await enqueueWorkMany(tx, [workRequest(unit, payload, options)]);
  return row as OutboxRow;
}

/**
 * A command's units of work, as `enqueueWork` asks for each, in one statement: every
 * payload is checked before any row is written, and the rows keep the order given.
 */
export async function enqueueWorkMany(tx: TenantDb, requests: readonly WorkRequest[]): Promise<OutboxRow[]> {
  return enqueueWorkMarkingPending(tx, [], requests);
}

/** `enqueueWorkMany` with `markPending(pending)` in the same statement: one round trip for both. */
export async function enqueueWorkMarkingPending(
  tx: TenantDb,
  pending: readonly ResourceVersionRef[],
  requests: readonly WorkRequest[],
): Promise<OutboxRow[]> {
  return enqueueOutboxMarkingPending(tx, pending, outboxMessages(requests));
}

/** enqueueWorkMarkingPending as statements for writeTogether; the payloads are checked here, before anything is sent. */
export function workMarkingPending(pending: readonly ResourceVersionRef[], requests: readonly WorkRequest[]): WriteStatement[] {
  return outboxMarkingPending(pending, outboxMessages(requests));
}

function outboxMessages(requests: readonly WorkRequest[]): NewOutboxMessage[] {
  return requests.map(({ unit, payload, options }) => ({
    topic: unit.topic,
    payload: unit.payload.parse(payload) as unknown as OutboxPayload,
    ...(options.patientId !== undefined ? { patientId: options.patientId } : {}),
    ...(options.availableAt !== undefined ? { availableAt: options.availableAt } : {}),
  }));
}
