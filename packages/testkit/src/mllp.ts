import { connect, type Socket } from 'node:net';

/**
 * A raw MLLP peer for tests, independent of the listener's own framing code: it writes
 * whatever bytes it is given, in whatever pieces, and collects the ACK frames it gets back.
 */
export interface RawMllp {
  write(bytes: Buffer): Promise<void>;
  /** Resolves once `n` ACKs have arrived in total, with all of them as text. */
  acks(n: number, timeoutMs?: number): Promise<string[]>;
  close(): Promise<void>;
  /** Resolves once the listener has closed the connection. */
  closed(timeoutMs?: number): Promise<void>;
  isClosed(): boolean;
}

export const frame = (text: string, encoding: BufferEncoding = 'utf8'): Buffer =>
  Buffer.concat([Buffer.from([0x0b]), Buffer.from(text, encoding), Buffer.from([0x1c, 0x0d])]);

export async function rawMllp(port: number): Promise<RawMllp> {
  const socket: Socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let buffer = Buffer.alloc(0);
  let closed = false;
  const closeWaiters: Array<() => void> = [];
  socket.on('error', () => undefined); // a write after the listener hung up; seen through closed()
  socket.on('close', () => {
    closed = true;
    closeWaiters.splice(0).forEach((w) => w());
  });
  const received: string[] = [];
  const waiters: Array<() => void> = [];
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (let end = buffer.indexOf(0x1c); end !== -1 && buffer[end + 1] === 0x0d; end = buffer.indexOf(0x1c)) {
      const start = buffer.indexOf(0x0b);
      received.push(buffer.subarray(start + 1, end).toString('latin1'));
      buffer = buffer.subarray(end + 2);
    }
    waiters.splice(0).forEach((w) => w());
  });
  return {
    write: (bytes) => new Promise((resolve, reject) => socket.write(bytes, (err) => (err ? reject(err) : resolve()))),
    async acks(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < n) {
        if (Date.now() > deadline) throw new Error(`got ${received.length} of ${n} ACKs`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 200);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return [...received];
    },
    isClosed: () => closed,
    closed: (timeoutMs = 10_000) =>
      closed
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('the listener kept the connection open')), timeoutMs);
            closeWaiters.push(() => {
              clearTimeout(timer);
              resolve();
            });
          }),
    close: () =>
      new Promise((resolve) => {
        socket.end(() => resolve());
        socket.destroy();
      }),
  };
}

/** MSA-1 and MSA-2 of an ACK. */
export function msa(ack: string): { code: string; controlId: string; text: string } {
  const line = ack.split('\r').find((s) => s.startsWith('MSA|')) ?? '';
  const [, code = '', controlId = '', text = ''] = line.split('|');
  return { code, controlId, text };
}
