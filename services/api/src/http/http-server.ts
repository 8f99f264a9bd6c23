import { STATUS_CODES, createServer, type RequestListener, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '@kap/config';
import { operationOutcome } from '@kap/fhir';
import type { Logger } from 'pino';

/** How long a refused client may go on sending before its connection is cut. */
const DRAIN_MS = 5_000;

const CLIENT_ERRORS: Readonly<Record<string, { status: number; code: 'too-costly' | 'timeout' | 'structure'; diagnostics: string }>> = {
  HPE_HEADER_OVERFLOW: { status: 431, code: 'too-costly', diagnostics: 'The request line and headers are larger than the limit' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'timeout', diagnostics: 'The request was not received in time; send it again' },
};

/**
 * Answers what Node's HTTP parser refuses before any route sees it (oversized headers, a
 * request too slow, malformed HTTP) with an OperationOutcome like every other error. The
 * socket then keeps reading until the client stops sending: closing it with unread data
 * would make the kernel reset the connection, and the client would see a reset instead of
 * the answer.
 */
function answerClientError(logger: Logger) {
  return (err: NodeJS.ErrnoException, socket: Socket): void => {
    socket.on('error', () => undefined);
    const pending = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || pending?.headersSent) {
      socket.destroy();
      return;
    }
    const known = (err.code && CLIENT_ERRORS[err.code]) || {
      status: 400,
      code: 'structure' as const,
      diagnostics: 'The request is not valid HTTP/1.1',
    };
    const body = JSON.stringify(operationOutcome([{ code: known.code, diagnostics: known.diagnostics }]));
    socket.resume();
    socket.end(
      `HTTP/1.1 ${known.status} ${STATUS_CODES[known.status]}\r\n` +
        'Content-Type: application/fhir+json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
    setTimeout(() => socket.destroy(), DRAIN_MS).unref();
    logger.warn({ status: known.status, code: err.code }, 'client error');
  };
}

/**
 * The API's HTTP server with bounds on slow and oversized clients: headers within
 * HTTP_HEADERS_TIMEOUT_MS, the whole request within that plus HTTP_BODY_TIMEOUT_MS (the app
 * answers a slow body itself, this is the backstop), idle keep-alive connections closed,
 * and request line plus headers at most HTTP_MAX_HEADER_BYTES.
 */
export function createApiServer(app: RequestListener, config: Config, logger: Logger): Server {
  const headersTimeout = config.HTTP_HEADERS_TIMEOUT_MS;
  const server = createServer(
    {
      maxHeaderSize: config.HTTP_MAX_HEADER_BYTES,
      headersTimeout,
      requestTimeout: headersTimeout + config.HTTP_BODY_TIMEOUT_MS + 1_000,
      keepAliveTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      // Timeouts are only as precise as this check; Node's default is every 30 s.
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(headersTimeout / 4))),
    },
    app,
  );
  server.on('clientError', answerClientError(logger));
  return server;
}
