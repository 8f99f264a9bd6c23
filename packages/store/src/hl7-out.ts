/**
 * The HL7 v2 messages to the interface engine are outbox rows (topic `hl7-out`, one per
 * resource version): their state is the row's. These queries keep them in order per patient,
 * never send one version twice, and show operators where each message is.
 */
import type { TenantDb } from './tenant';
import { isoOrNull, numberFrom, textOrNull } from './sql-values';

export interface Hl7OutPrecedence {
  /** Earlier messages of the patient neither delivered nor dead: this one waits for them. */
  readonly earlierOpen: number;
  /** Another row with this MSH-10 was already acknowledged (the same version saved twice). */
  readonly alreadyDelivered: boolean;
}

export async function hl7OutPrecedence(
  db: TenantDb,
  topic: string,
  row: { id: number; patientId: string | null; controlId: string },
): Promise<Hl7OutPrecedence> {
  const [r] = await db.query<{ open: unknown; delivered: unknown }>(
    `SELECT
       (SELECT count(*)::int FROM outbox WHERE topic = $1 AND patient_id = $2 AND id < $3 AND completed_at IS NULL AND dead_at IS NULL) AS open,
       EXISTS (SELECT 1 FROM outbox WHERE topic = $1 AND patient_id = $2 AND id <> $3 AND completed_at IS NOT NULL
               AND payload ? 'controlId' AND payload->>'controlId' = $4) AS delivered`,
    [topic, row.patientId, row.id, row.controlId],
  );
  return { earlierOpen: numberFrom(r?.open ?? 0), alreadyDelivered: r?.delivered === true };
}

export type Hl7OutState = 'pending' | 'retrying' | 'delivered' | 'refused';

export interface Hl7OutMessage {
  readonly outboxId: number;
  readonly controlId: string;
  readonly messageType: string;
  readonly resource: string;
  readonly state: Hl7OutState;
  readonly attempts: number;
  /** The engine's MSA-3/ERR text of a refusal, or the link error of the last attempt. */
  readonly lastError: string | null;
  readonly createdAt: string;
  readonly deliveredAt: string | null;
}

/** The newest messages (per patient when given), with their delivery state. */
export async function listHl7OutMessages(
  db: TenantDb,
  topic: string,
  opts: { limit: number; patientId?: string },
): Promise<Hl7OutMessage[]> {
  const rows = await db.query<Record<string, unknown>>(
    `SELECT id, payload, attempts, last_error, created_at, completed_at, dead_at FROM outbox
     WHERE topic = $1 AND ($2::text IS NULL OR patient_id = $2) ORDER BY id DESC LIMIT $3`,
    [topic, opts.patientId ?? null, Math.max(1, Math.trunc(opts.limit))],
  );
  return rows.map((r) => {
    const p = r.payload as Record<string, string>;
    const attempts = numberFrom(r.attempts);
    const state: Hl7OutState = r.completed_at ? 'delivered' : r.dead_at ? 'refused' : attempts > 0 ? 'retrying' : 'pending';
    return {
      outboxId: numberFrom(r.id),
      controlId: String(p.controlId),
      messageType: String(p.messageType),
      resource: `${p.resourceType}/${p.resourceId}/_history/${p.version}`,
      state,
      attempts,
      lastError: textOrNull(r.last_error),
      createdAt: isoOrNull(r.created_at) ?? '',
      deliveredAt: isoOrNull(r.completed_at),
    };
  });
}

/** How many messages are in each state. */
export async function hl7OutCounts(db: TenantDb, topic: string): Promise<Record<Hl7OutState, number>> {
  const [r] = await db.query<Record<string, unknown>>(
    `SELECT count(*) FILTER (WHERE completed_at IS NOT NULL)::int AS delivered,
            count(*) FILTER (WHERE completed_at IS NULL AND dead_at IS NOT NULL)::int AS refused,
            count(*) FILTER (WHERE completed_at IS NULL AND dead_at IS NULL AND attempts > 0)::int AS retrying,
            count(*) FILTER (WHERE completed_at IS NULL AND dead_at IS NULL AND attempts = 0)::int AS pending
     FROM outbox WHERE topic = $1`,
    [topic],
  );
  return {
    pending: numberFrom(r?.pending ?? 0),
    retrying: numberFrom(r?.retrying ?? 0),
    delivered: numberFrom(r?.delivered ?? 0),
    refused: numberFrom(r?.refused ?? 0),
  };
}
