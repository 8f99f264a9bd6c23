import {
  Hl7ReadError,
  buildAck,
  decodeHl7,
  encodeHl7,
  readAdt,
  readMshFields,
  routeHl7Message,
  type AckCode,
  type Hl7Problem,
  type Hl7Tenant,
  type InboundSettings,
  type MllpEvent,
} from '@kap/inbound';
import { receiveInboundMessage } from '@kap/queue';
import { forTenant, storeUnroutedMessage, type DeploymentDb, type NewInboundMessage } from '@kap/store';
import type { Logger } from 'pino';
import { messageTypeLabel, recordMessage } from './metrics';

export interface FrameDeps {
  /** The unscoped database: each message is stored through its tenant's handle. */
  readonly db: DeploymentDb;
  /** The tenants this listener serves; the sending facility (MSH-4) picks one when there are several. */
  readonly tenants: readonly Hl7Tenant[];
  readonly logger: Logger;
  readonly maxBytes: number;
  readonly now?: () => Date;
}

/** Reads only the header of a message no tenant takes: its events are never applied. */
const UNROUTED_SETTINGS: InboundSettings = { assigningAuthorities: new Map(), dischargeStopCodes: new Set() };

let ackCounter = 0;
/** This ACK's own MSH-10: unique, at most 20 characters (MSH-10's length before 2.7). */
const nextAckControlId = (now: Date): string => `K${now.getTime().toString(36)}${(ackCounter++ % 1296).toString(36).padStart(2, '0')}`;

/**
 * Answers one MLLP event with the bytes of its ACK. The message is stored first, in every
 * case: accepted ADT with the outbox row that has the worker apply it, anything else for an
 * operator to look at. Only a stored message is acknowledged `AA`; if it cannot be stored
 * the answer is `AR` (a system problem, per HL7: send it again later). A message no tenant
 * takes (several tenants, an unlisted MSH-4) is answered `AR` with the reason and kept,
 * under no tenant, for an operator.
 */
export async function answerFrame(deps: FrameDeps, event: MllpEvent): Promise<Buffer> {
  const now = (deps.now ?? (() => new Date()))();
  const bytes = event.kind === 'frame' ? event.bytes : event.kind === 'oversize' ? event.head : event.bytes;
  let msh: readonly string[] = readMshFields(bytes) ?? [];
  let charset = 'latin1';
  let code: AckCode;
  let problem: Hl7Problem | undefined;
  let note: string | undefined;
  let record: NewInboundMessage;
  let typeLabel = messageTypeLabel((msh[9] ?? '').split('^')[0] ?? '', (msh[9] ?? '').split('^')[1] ?? '');
  let route = routeHl7Message(msh[4], deps.tenants);

  if (event.kind !== 'frame') {
    code = 'AR';
    problem =
      event.kind === 'oversize'
        ? {
            code: '207',
            text: event.complete
              ? `Message of ${event.size} bytes exceeds the limit of ${deps.maxBytes} bytes; connection closed`
              : `Message exceeds the limit of ${deps.maxBytes} bytes (${event.size} received, frame not ended); connection closed`,
          }
        : { code: '100', text: 'Bytes outside an MLLP frame (<VT> message <FS><CR>), or a frame cut short' };
    record = rejected(bytes, msh, code, problem);
  } else {
    try {
      const decoded = decodeHl7(bytes);
      msh = decoded.msh;
      charset = decoded.charset;
      route = routeHl7Message(msh[4], deps.tenants);
      const reading = readAdt(decoded.message, 'tenant' in route ? route.tenant.settings : UNROUTED_SETTINGS);
      typeLabel = messageTypeLabel(reading.header.messageCode, reading.header.triggerEvent);
      const base = {
        channel: 'hl7v2' as const,
        sender: reading.header.sender,
        controlId: reading.header.controlId || null,
        messageType: typeLabel,
        // PostgreSQL text cannot hold NUL; no HL7 field may contain one either.
        content: decoded.text.replace(/\0/g, ''),
      };
      if ('problem' in route) {
        code = 'AR';
        problem = route.problem;
        record = { ...base, status: 'rejected', ackCode: code, problem: problem.text };
      } else if (reading.outcome === 'rejected') {
        code = reading.ack;
        problem = reading.problem;
        record = { ...base, status: 'rejected', ackCode: code, problem: problem.text };
      } else {
        code = 'AA';
        note = reading.outcome === 'ignored' ? `Accepted and not used: ${reading.why}` : undefined;
        if (reading.outcome === 'accepted' && reading.warning) problem = reading.warning;
        record = { ...base, status: reading.outcome, ackCode: code, problem: problem?.text ?? null };
      }
    } catch (err) {
      if (!(err instanceof Hl7ReadError)) throw err;
      code = 'AR';
      problem = { code: err.code, text: err.message };
      msh = err.msh ?? msh;
      route = routeHl7Message(msh[4], deps.tenants);
      record = rejected(bytes, msh, code, problem);
    }
  }

  try {
    // Unrouted, it is refused and nobody's work: kept in the deployment's own table, for its
    // operator (GET /v1/operator/unrouted-messages), never in a tenant's.
    const stored =
      'tenant' in route
        ? await receiveInboundMessage(forTenant(deps.db, route.tenant.id), record)
        : { message: await storeUnroutedMessage(deps.db, record), created: true };
    if (!stored.created) {
      // The same sender and MSH-10 again: acknowledged as the first time, applied once.
      code = (stored.message.ackCode as AckCode | null) ?? 'AA';
      note = 'Duplicate of a message already received; not applied again';
    }
    deps.logger.info(
      {
        tenant: 'tenant' in route ? route.tenant.id : null,
        inboundMessage: stored.message.id,
        type: typeLabel,
        ack: code,
        duplicate: !stored.created,
        problem: problem?.text,
      },
      'hl7 message received',
    );
  } catch (err) {
    code = 'AR';
    problem = { code: '207', text: 'The message could not be stored; send it again later' };
    note = undefined;
    deps.logger.error({ err: err instanceof Error ? err.message : String(err), type: typeLabel }, 'hl7 message not stored; answered AR');
  }
  recordMessage(typeLabel, code);
  const ack = buildAck({ msh, code, now, ackControlId: nextAckControlId(now), ...(problem ? { problem } : {}), ...(note ? { note } : {}) });
  return encodeHl7(ack, charset);
}

function rejected(bytes: Buffer, msh: readonly string[], code: AckCode, problem: Hl7Problem): NewInboundMessage {
  return {
    channel: 'hl7v2',
    sender: msh.length > 4 ? `${msh[3] ?? ''}|${msh[4] ?? ''}` : null,
    controlId: msh[10] || null,
    messageType: null,
    // Kept as received, byte for byte (Latin-1 maps each byte to one character), for an operator.
    content: bytes.toString('latin1').replace(/\0/g, '\\x00'),
    status: 'rejected',
    ackCode: code,
    problem: problem.text,
  };
}
