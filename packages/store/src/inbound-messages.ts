/**
 * What the hospital sent (HL7 v2 messages over MLLP, FHIR notifications), stored before it
 * is acknowledged. Accepted messages are unique by sender and control id, so a resend is
 * acknowledged again and applied once; rejected ones are kept for an operator.
 */
import type { TenantDb } from './tenant';
import { SCOPED_TENANT } from './migration-list';
import { isoFrom, isoOrNull, jsonParam, numberFrom, textOrNull, type JsonValue } from './sql-values';

export type InboundChannel = 'hl7v2' | 'fhir-notification';
export type InboundStatus = 'accepted' | 'ignored' | 'rejected' | 'processed';

export interface InboundMessageRow {
  id: number;
  channel: InboundChannel;
  sender: string | null;
  controlId: string | null;
  messageType: string | null;
  content: string;
  status: InboundStatus;
  ackCode: string | null;
  problem: string | null;
  outcome: JsonValue | null;
  receivedAt: string;
  processedAt: string | null;
}

export interface NewInboundMessage {
  channel: InboundChannel;
  sender?: string | null;
  controlId?: string | null;
  messageType?: string | null;
  /** The message as received (decoded text, or JSON); kept for replay and for operators. */
  content: string;
  /** `accepted` messages are deduplicated and queued for the worker; the rest are only kept. */
  status: Exclude<InboundStatus, 'processed'>;
  ackCode?: string | null;
  problem?: string | null;
}

const COLUMNS = 'id, channel, sender, control_id, message_type, content, status, ack_code, problem, outcome, received_at, processed_at';

interface InboundRecord {
  id: unknown;
  channel: InboundChannel;
  sender: unknown;
  control_id: unknown;
  message_type: unknown;
  content: string;
  status: InboundStatus;
  ack_code: unknown;
  problem: unknown;
  outcome: JsonValue | null;
  received_at: unknown;
  processed_at: unknown;
}

function toRow(r: InboundRecord): InboundMessageRow {
  return {
    id: numberFrom(r.id),
    channel: r.channel,
    sender: textOrNull(r.sender),
    controlId: textOrNull(r.control_id),
    messageType: textOrNull(r.message_type),
    content: r.content,
    status: r.status,
    ackCode: textOrNull(r.ack_code),
    problem: textOrNull(r.problem),
    outcome: r.outcome ?? null,
    receivedAt: isoFrom(r.received_at),
    processedAt: isoOrNull(r.processed_at),
  };
}

export interface StoredInbound {
  readonly message: InboundMessageRow;
  /** False when the same sender already sent this control id: the first one is returned. */
  readonly created: boolean;
}

/**
 * Stores a message. An accepted message whose sender and control id were seen before is
 * not stored again: the earlier row is returned, so the caller can answer as it did then.
 * Callers go through `receiveInboundMessage` (@kap/queue), which also asks the worker, in
 * the same transaction, to apply what was accepted.
 */
export async function storeInboundMessage(db: TenantDb, message: NewInboundMessage): Promise<StoredInbound> {
  const dedupeKey =
    (message.status === 'accepted' || message.status === 'ignored') && message.controlId
      ? `${message.channel}|${message.sender ?? ''}|${message.controlId}`
      : null;
  return db.transaction(async (tx) => {
    const [record] = await tx.query<InboundRecord>(
      `INSERT INTO inbound_messages (channel, sender, control_id, message_type, dedupe_key, content, status, ack_code, problem)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant_id, dedupe_key) DO NOTHING RETURNING ${COLUMNS}`,
      [
        message.channel,
        message.sender ?? null,
        message.controlId ?? null,
        message.messageType ?? null,
        dedupeKey,
        message.content,
        message.status,
        message.ackCode ?? null,
        message.problem ?? null,
      ],
    );
    if (!record) {
      const [earlier] = await tx.query<InboundRecord>(
        `SELECT ${COLUMNS} FROM inbound_messages WHERE dedupe_key = $1 AND tenant_id = ${SCOPED_TENANT}`,
        [dedupeKey],
      );
      if (!earlier) throw new Error('inbound message conflict without an earlier row');
      return { message: toRow(earlier), created: false };
    }
    const row = toRow(record);
    return { message: row, created: true };
  });
}

/** The message with this id, or undefined. */
export async function getInboundMessage(db: TenantDb, id: number): Promise<InboundMessageRow | undefined> {
  const [record] = await db.query<InboundRecord>(`SELECT ${COLUMNS} FROM inbound_messages WHERE id = $1`, [id]);
  return record && toRow(record);
}

/**
 * Locks the message's row for the caller's transaction and returns its status, so two
 * runs of its job apply it one after the other, the second finding it processed.
 */
export async function lockInboundMessage(tx: TenantDb, id: number): Promise<InboundStatus | undefined> {
  const [row] = await tx.query<{ status: InboundStatus }>('SELECT status FROM inbound_messages WHERE id = $1 FOR UPDATE', [id]);
  return row?.status;
}

/**
 * Marks an accepted message applied, with what it did; false when it already was (a
 * second run of its job), so the caller rolls back and changes nothing twice. Locks the row.
 */
export async function markInboundProcessed(db: TenantDb, id: number, outcome: JsonValue): Promise<boolean> {
  const rows = await db.query(
    `UPDATE inbound_messages SET status = 'processed', outcome = $2::jsonb, processed_at = now()
     WHERE id = $1 AND status = 'accepted' RETURNING id`,
    [id, jsonParam(outcome)],
  );
  return rows.length > 0;
}

/** Messages by status, newest first, for operators (rejected ones wait here to be looked at). */
export async function listInboundMessages(db: TenantDb, opts: { status?: InboundStatus; limit: number }): Promise<InboundMessageRow[]> {
  const records = await db.query<InboundRecord>(
    `SELECT ${COLUMNS} FROM inbound_messages WHERE ($1::text IS NULL OR status = $1) ORDER BY id DESC LIMIT $2`,
    [opts.status ?? null, Math.max(Math.trunc(opts.limit), 0)],
  );
  return records.map(toRow);
}
