import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Hl7Message } from '@medplum/core';

/**
 * A hospital interface engine on a raw socket (node:net): it reads MLLP frames byte by byte,
 * keeps every message it accepted once per MSH-10 (a repeat is answered AA again and not
 * kept twice, as engines dedupe), counts every receipt, and answers as the test scripts it.
 */

export type EngineAnswer =
  | { readonly kind: 'ack'; readonly code: 'AA' | 'AE' | 'AR'; readonly text?: string; readonly delayMs?: number }
  /** Keeps the message but never answers. */
  | { readonly kind: 'silent' }
  /** Keeps the message, writes the first half of the ACK frame, and drops the connection. */
  | { readonly kind: 'drop-mid-ack' }
  /** Drops the connection on the message's arrival, keeping nothing (it was lost on the way). */
  | { readonly kind: 'drop-mid-message' };

export interface Received {
  readonly controlId: string;
  readonly text: string;
  readonly message: Hl7Message;
}

export interface InterfaceEngine {
  readonly port: number;
  /** Messages kept, once per MSH-10, in the order they were first kept. */
  readonly accepted: Received[];
  /** How many times each MSH-10 was read whole and kept or answered (retries included). */
  readonly receipts: Map<string, number>;
  /** How many times each MSH-10 arrived, lost ones included. */
  readonly arrivals: Map<string, number>;
  /** Connections opened by the sender. */
  connections(): number;
  /** How to answer a message; `nth` counts its arrivals, lost ones included (1 = the first). */
  answer: (message: Hl7Message, nth: number) => EngineAnswer;
  close(): Promise<void>;
}

const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;

function ackFor(message: Hl7Message, code: string, text = ''): string {
  const msh = message.getSegment('MSH');
  const controlId = msh?.getField(10).toString() ?? '';
  const esc = (t: string): string =>
    t.replace(/\\/g, '\\E\\').replace(/\|/g, '\\F\\').replace(/\^/g, '\\S\\').replace(/~/g, '\\R\\').replace(/&/g, '\\T\\');
  const segments = [
    `MSH|^~\\&|ENGINE|HOSP|${msh?.getField(3).toString()}|${msh?.getField(4).toString()}|20260301100000||ACK^${msh?.getComponent(9, 2)}^ACK|ACK-${controlId}|P|2.5.1`,
    `MSA|${code}|${controlId}${code === 'AA' ? '' : `|${esc(text)}`}`,
  ];
  if (code !== 'AA') segments.push(`ERR||OBX^1^3|207^Application internal error^HL70357|E||||${esc(`${text} (detail)`)}`);
  return segments.join('\r');
}

const frame = (text: string): Buffer => Buffer.concat([Buffer.from([VT]), Buffer.from(text, 'utf8'), Buffer.from([FS, CR])]);

export async function startInterfaceEngine(): Promise<InterfaceEngine> {
  const accepted: Received[] = [];
  const receipts = new Map<string, number>();
  const arrivals = new Map<string, number>();
  let connections = 0;
  const sockets = new Set<Socket>();
  const engine: InterfaceEngine = {
    port: 0,
    accepted,
    receipts,
    arrivals,
    connections: () => connections,
    answer: () => ({ kind: 'ack', code: 'AA' }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const keep = (controlId: string, text: string, message: Hl7Message): void => {
    if (!accepted.some((a) => a.controlId === controlId)) accepted.push({ controlId, text, message });
  };
  const server: Server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const start = buffer.indexOf(VT);
        const end = buffer.indexOf(FS, start + 1);
        if (start === -1) {
          buffer = Buffer.alloc(0);
          return;
        }
        // Part of a frame: wait for the rest.
        if (end === -1 || end + 1 >= buffer.length) return;
        const text = buffer.subarray(start + 1, end).toString('utf8');
        buffer = buffer.subarray(end + 2);
        const message = Hl7Message.parse(text);
        const controlId = message.getSegment('MSH')?.getField(10).toString() ?? '';
        const nth = (arrivals.get(controlId) ?? 0) + 1;
        arrivals.set(controlId, nth);
        const answer = engine.answer(message, nth);
        if (answer.kind === 'drop-mid-message') {
          socket.destroy();
          return;
        }
        receipts.set(controlId, (receipts.get(controlId) ?? 0) + 1);
        if (answer.kind === 'silent') {
          keep(controlId, text, message);
          continue;
        }
        if (answer.kind === 'drop-mid-ack') {
          keep(controlId, text, message);
          const ack = frame(ackFor(message, 'AA'));
          socket.end(ack.subarray(0, Math.floor(ack.length / 2)));
          socket.destroySoon();
          return;
        }
        if (answer.code === 'AA') keep(controlId, text, message);
        const reply = (): void => {
          if (!socket.destroyed) socket.write(frame(ackFor(message, answer.code, answer.text)));
        };
        if (answer.delayMs) setTimeout(reply, answer.delayMs);
        else reply();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  (engine as { port: number }).port = (server.address() as AddressInfo).port;
  return engine;
}
