import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { MllpLinkError, MllpSender } from './mllp-sender';

/** A raw-socket receiver whose every byte the test writes itself. */
async function rawReceiver(onMessage: (socket: Socket, text: string) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      let end: number;
      while ((end = buffer.indexOf('\x1c\r')) !== -1) {
        const text = buffer.slice(buffer.indexOf('\x0b') + 1, end);
        buffer = buffer.slice(end + 2);
        onMessage(socket, text);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const message = (id: string): string =>
  `MSH|^~\\&|KAP|KAP|ENGINE|HOSP|20260301100000||ORU^R01^ORU_R01|${id}|P|2.5.1\rPID|1||MRN-1^^^HOSP^MR`;
const ack = (id: string, code = 'AA', rest = ''): string =>
  `\x0bMSH|^~\\&|ENGINE|HOSP|KAP|KAP|20260301100000||ACK^R01^ACK|A${id}|P|2.5.1\rMSA|${code}|${id}${rest}\x1c\r`;

describe('MLLP sender', () => {
  let receiver: { port: number; close(): Promise<void> } | undefined;
  let sender: MllpSender | undefined;
  afterEach(async () => {
    sender?.close();
    await receiver?.close();
  });

  it('takes its own ACK out of a read that also holds a stray one, and keeps one connection for several messages', async () => {
    let connections = 0;
    const seen = new WeakSet<Socket>();
    receiver = await rawReceiver((socket, text) => {
      if (!seen.has(socket)) {
        seen.add(socket);
        connections += 1;
      }
      const id = text.split('|')[9] ?? '';
      // A stale ACK for another message and this one's, in one write (one TCP read).
      socket.write(ack('OLD1') + ack(id));
    });
    const server = receiver;
    sender = new MllpSender('127.0.0.1', server.port);
    const first = await sender.send(message('M1'), 'M1', 5000);
    const second = await sender.send(message('M2'), 'M2', 5000);
    expect([first.code, first.controlId, second.code, second.controlId, connections]).toEqual(['AA', 'M1', 'AA', 'M2', 1]);
  });

  it('reads AE with the MSA-3 and ERR text, unescaped', async () => {
    receiver = await rawReceiver((socket, text) => {
      const id = text.split('|')[9] ?? '';
      socket.write(ack(id, 'AE', '|Unknown code 8867-4\\F\\x\rERR||OBX^1^3|103^Table value not found^HL70357|E||||Code not \\T\\ mapped'));
    });
    sender = new MllpSender('127.0.0.1', receiver.port);
    const answer = await sender.send(message('M3'), 'M3', 5000);
    expect(answer).toEqual({ code: 'AE', controlId: 'M3', text: 'Unknown code 8867-4|x; Code not & mapped' });
  });

  it('gives up on a missing ACK with a link error, ignores the late ACK, and sends again on a new connection', async () => {
    let receipts = 0;
    let connections = 0;
    const seen = new WeakSet<Socket>();
    receiver = await rawReceiver((socket, text) => {
      if (!seen.has(socket)) {
        seen.add(socket);
        connections += 1;
      }
      receipts += 1;
      const id = text.split('|')[9] ?? '';
      // The first receipt is answered long after the deadline (on a link the sender has closed).
      if (receipts === 1) setTimeout(() => socket.destroyed || socket.write(ack(id)), 1500).unref();
      else socket.write(ack(id));
    });
    sender = new MllpSender('127.0.0.1', receiver.port);
    await expect(sender.send(message('M4'), 'M4', 200)).rejects.toBeInstanceOf(MllpLinkError);
    const retry = await sender.send(message('M4'), 'M4', 5000);
    expect([retry.code, retry.controlId, receipts, connections]).toEqual(['AA', 'M4', 2, 2]);
  });

  it('reports a connection dropped in the middle of the ACK frame as a link error', async () => {
    receiver = await rawReceiver((socket, text) => {
      const id = text.split('|')[9] ?? '';
      const whole = ack(id);
      socket.end(whole.slice(0, Math.floor(whole.length / 2)));
    });
    sender = new MllpSender('127.0.0.1', receiver.port);
    await expect(sender.send(message('M5'), 'M5', 5000)).rejects.toThrow(/closed the connection before the ACK/);
  });

  it('reports a refused connection as a link error', async () => {
    const gone = await rawReceiver(() => undefined);
    const port = gone.port;
    await gone.close();
    sender = new MllpSender('127.0.0.1', port);
    await expect(sender.send(message('M6'), 'M6', 1000)).rejects.toBeInstanceOf(MllpLinkError);
  });
});
