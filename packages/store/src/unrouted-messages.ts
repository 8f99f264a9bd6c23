/**
 * Hospital messages no tenant claims (an HL7 v2 sender no tenant's routing names): refused,
 * and kept for the deployment's operator, in a table of the deployment's that no tenant's
 * handle reaches.
 */
import type { DeploymentDb } from './db';
import { isoFrom, numberFrom, textOrNull } from './sql-values';
import type { InboundChannel } from './inbound-messages';

export interface UnroutedMessageRow {
  id: number;
  channel: InboundChannel;
  sender: string | null;
  controlId: string | null;
  messageType: string | null;
  content: string;
  ackCode: string | null;
  problem: string | null;
  receivedAt: string;
}

export interface NewUnroutedMessage {
  channel: InboundChannel;
  sender?: string | null;
  controlId?: string | null;
  messageType?: string | null;
  /** The message as received (decoded text); kept for the operator. */
  content: string;
  ackCode?: string | null;
  problem?: string | null;
}

const COLUMNS = 'id, channel, sender, control_id, message_type, content, ack_code, problem, received_at';

interface UnroutedRecord {
  id: unknown;
  channel: InboundChannel;
  sender: unknown;
  control_id: unknown;
  message_type: unknown;
  content: string;
  ack_code: unknown;
  problem: unknown;
  received_at: unknown;
}

function toRow(r: UnroutedRecord): UnroutedMessageRow {
  return {
    id: numberFrom(r.id),
    channel: r.channel,
    sender: textOrNull(r.sender),
    controlId: textOrNull(r.control_id),
    messageType: textOrNull(r.message_type),
    content: r.content,
    ackCode: textOrNull(r.ack_code),
    problem: textOrNull(r.problem),
    receivedAt: isoFrom(r.received_at),
  };
}

/** Keeps a message no tenant claims. Every one is kept (no dedupe): it was refused, and nothing applies it. */
export async function storeUnroutedMessage(db: DeploymentDb, message: NewUnroutedMessage): Promise<UnroutedMessageRow> {
  const [record] = await db.query<UnroutedRecord>(
    `INSERT INTO unrouted_messages (channel, sender, control_id, message_type, content, ack_code, problem)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
    [
      message.channel,
      message.sender ?? null,
      message.controlId ?? null,
      message.messageType ?? null,
      message.content,
      message.ackCode ?? null,
      message.problem ?? null,
    ],
  );
  if (!record) throw new Error('INSERT returned no row');
  return toRow(record);
}

/** The newest messages no tenant claimed, for the deployment's operator. */
export async function listUnroutedMessages(db: DeploymentDb, opts: { limit: number }): Promise<UnroutedMessageRow[]> {
  const records = await db.query<UnroutedRecord>(`SELECT ${COLUMNS} FROM unrouted_messages ORDER BY id DESC LIMIT $1`, [
    Math.max(Math.trunc(opts.limit), 0),
  ]);
  return records.map(toRow);
}
