import { Socket } from 'node:net';
import { MllpFramer, mllpFrame, readAck, type ReadAck } from '@kap/inbound';

/**
 * An MLLP client for one destination, on node:net rather than @medplum/hl7's Hl7Client
 * (4.5.2): that client merges two frames that arrive in one TCP read, has no per-message ACK
 * deadline, and leaves a late ACK to be taken for the next message's. Here every message waits
 * for the ACK that names its own MSH-10 (MSA-2) within its deadline; on a timeout or a dropped
 * link the connection is closed (so a late ACK can never be read as another message's) and
 * the caller retries the same message, which the engine dedupes by MSH-10.
 *
 * One connection per destination, one message in flight on it: sends are queued in order.
 */

export type MllpAck = ReadAck;

/** The link failed (no connection, dropped, no ACK in time): the message may or may not have arrived, so it is sent again. */
export class MllpLinkError extends Error {
  override name = 'MllpLinkError';
}

const CONNECT_TIMEOUT_MS = 10_000;
/** Largest ACK read; an engine's ACK is a few hundred bytes. */
const MAX_ACK_BYTES = 1_048_576;

interface Waiter {
  readonly controlId: string;
  /** The connection the message went out on: only its ACK or its loss settles the wait. */
  readonly socket: Socket;
  resolve(ack: MllpAck): void;
  reject(err: Error): void;
}

export class MllpSender {
  private socket: Socket | undefined;
  private connecting: Promise<Socket> | undefined;
  private waiter: Waiter | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    readonly host: string,
    readonly port: number,
  ) {}

  /** Sends one message and resolves with its ACK; rejects with MllpLinkError when it must be retried. */
  send(message: string, controlId: string, ackTimeoutMs: number): Promise<MllpAck> {
    const run = this.queue.then(() => this.sendNow(message, controlId, ackTimeoutMs));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Closes the connection; later sends are refused. */
  close(): void {
    this.closed = true;
    this.drop(new MllpLinkError('sender closed'));
  }

  private async sendNow(message: string, controlId: string, ackTimeoutMs: number): Promise<MllpAck> {
    if (this.closed) throw new MllpLinkError('sender closed');
    const socket = await this.connect();
    return new Promise<MllpAck>((resolve, reject) => {
      const timer = setTimeout(() => {
        // A late ACK must not be read as the next message's: the link starts afresh.
        this.drop(new MllpLinkError(`no ACK from ${this.host}:${this.port} within ${ackTimeoutMs} ms`));
      }, ackTimeoutMs);
      this.waiter = {
        controlId,
        socket,
        resolve: (ack) => {
          clearTimeout(timer);
          this.waiter = undefined;
          resolve(ack);
        },
        reject: (err) => {
          clearTimeout(timer);
          this.waiter = undefined;
          reject(err);
        },
      };
      socket.write(mllpFrame(Buffer.from(message, 'utf8')));
    });
  }

  private connect(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    if (this.connecting) return this.connecting;
    this.connecting = new Promise<Socket>((resolve, reject) => {
      const socket = new Socket();
      const framer = new MllpFramer(MAX_ACK_BYTES);
      const fail = (err: Error): void => {
        socket.destroy();
        reject(new MllpLinkError(`cannot connect to ${this.host}:${this.port}: ${err.message}`));
      };
      socket.setTimeout(CONNECT_TIMEOUT_MS, () => fail(new Error('connect timed out')));
      socket.once('error', fail);
      socket.connect(this.port, this.host, () => {
        socket.setTimeout(0);
        socket.off('error', fail);
        socket.setKeepAlive(true, 30_000);
        socket.on('data', (chunk: Buffer) => {
          for (const event of framer.push(chunk)) if (event.kind === 'frame') this.onFrame(socket, event.bytes);
        });
        socket.on('error', () => undefined);
        socket.on('close', () => {
          if (this.socket === socket) this.socket = undefined;
          if (this.waiter?.socket === socket)
            this.waiter.reject(new MllpLinkError(`${this.host}:${this.port} closed the connection before the ACK`));
        });
        this.socket = socket;
        resolve(socket);
      });
    }).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private onFrame(socket: Socket, bytes: Buffer): void {
    const ack = readAck(bytes.toString('utf8'));
    // An ACK naming another message (a stray, or one the engine sent twice) is not this message's answer.
    if (!ack || this.waiter?.socket !== socket || ack.controlId !== this.waiter.controlId) return;
    this.waiter.resolve(ack);
  }

  private drop(err: Error): void {
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
    this.waiter?.reject(err);
  }
}
