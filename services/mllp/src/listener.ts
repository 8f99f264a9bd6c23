import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { MllpFramer, mllpFrame, type Hl7Tenant } from '@kap/inbound';
import type { DeploymentDb } from '@kap/store';
import type { Logger } from 'pino';
import { answerFrame } from './handle-frame';
import { connectionClosed, connectionOpened } from './metrics';

export interface MllpListenerOptions {
  readonly port: number;
  readonly host: string;
  readonly db: DeploymentDb;
  /** Whose messages these may be; with several, MSH-4 decides (`routeHl7Message`). */
  readonly tenants: readonly Hl7Tenant[];
  readonly logger: Logger;
  readonly maxMessageBytes: number;
  readonly idleTimeoutMs: number;
  readonly now?: () => Date;
}

export interface RunningMllpListener {
  readonly port: number;
  /** Stops accepting connections, answers what was already received, then closes every connection. */
  close(): Promise<void>;
}

/**
 * The MLLP listener (HL7 v2 over TCP). Its own framing on the socket: frames may share a
 * read or arrive byte by byte. Each connection's messages are answered in order, one at a
 * time, each ACK sent only once its message is stored. A connection that sends garbage
 * gets `AR` and stays open; one that errors is dropped without disturbing the others.
 */
export async function startMllpListener(options: MllpListenerOptions): Promise<RunningMllpListener> {
  const sockets = new Set<Socket>();
  const inFlight = new Set<Promise<void>>();
  const deps = {
    db: options.db,
    tenants: options.tenants,
    logger: options.logger,
    maxBytes: options.maxMessageBytes,
    ...(options.now ? { now: options.now } : {}),
  };

  // Half-open allowed: a sender may send its last message and shut its side; the ACK still goes out.
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    connectionOpened();
    const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    options.logger.debug({ peer }, 'mllp connection opened');
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    socket.setTimeout(options.idleTimeoutMs, () => socket.end());
    const framer = new MllpFramer(options.maxMessageBytes);
    // One message at a time per connection: ACKs leave in the order messages came.
    let chain: Promise<void> = Promise.resolve();
    // Set once a message passed the size limit: a sender that does not stop on its own would
    // otherwise stream forever (its bytes keep the idle timeout from firing).
    let refused = false;
    const handle = (all: ReturnType<MllpFramer['push']>): void => {
      if (refused) return;
      const cut = all.findIndex((e) => e.kind === 'oversize');
      const events = cut === -1 ? all : all.slice(0, cut + 1);
      if (cut !== -1) {
        refused = true;
        // Nothing more is read into memory: what it still sends is dropped unread.
        socket.removeAllListeners('data');
        socket.on('data', () => undefined);
      }
      if (events.length === 0) return;
      // Back-pressure: stop reading while this connection's messages are being stored.
      socket.pause();
      const work = chain.then(async () => {
        for (const event of events) {
          let ack: Buffer;
          try {
            ack = await answerFrame(deps, event);
          } catch (err) {
            options.logger.error({ peer, err: err instanceof Error ? err.message : String(err) }, 'mllp message failed unexpectedly');
            socket.destroy();
            return;
          }
          if (!socket.destroyed && socket.writable) socket.write(mllpFrame(ack));
        }
        if (refused) {
          closeAfterRefusal(socket, options.logger, peer);
          return;
        }
        if (!socket.destroyed) socket.resume();
      });
      chain = work;
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work));
    };
    socket.on('data', (chunk: Buffer) => handle(framer.push(chunk)));
    socket.on('end', () => {
      handle(framer.end());
      void chain.then(() => socket.end());
    });
    socket.on('error', (err) => options.logger.warn({ peer, err: err.message }, 'mllp connection error'));
    socket.on('close', () => {
      sockets.delete(socket);
      connectionClosed();
      options.logger.debug({ peer }, 'mllp connection closed');
    });
  });
  server.on('error', (err) => options.logger.error({ err: err.message }, 'mllp listener error'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  options.logger.info({ host: options.host, port }, 'mllp listener ready');
  return {
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled([...inFlight]);
      for (const socket of sockets) socket.end();
      const forced = setTimeout(() => sockets.forEach((s) => s.destroy()), 5000);
      await closed;
      clearTimeout(forced);
    },
  };
}

/** How long a refused sender gets to read its AR and hang up before the socket is destroyed. */
const REFUSAL_GRACE_MS = 2000;

function closeAfterRefusal(socket: Socket, logger: Logger, peer: string): void {
  if (socket.destroyed) return;
  logger.warn({ peer }, 'mllp sender passed the message size limit; answered AR and closing');
  socket.resume();
  // The AR is flushed before the FIN; a sender still writing is cut off after a short grace.
  socket.end();
  const timer = setTimeout(() => socket.destroy(), REFUSAL_GRACE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
