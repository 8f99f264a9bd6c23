import { connect } from 'node:net';

export interface RawAnswer {
  /** Everything the server sent before closing, or what arrived before `until` matched. */
  readonly text: string;
  /** A socket error (ECONNRESET) instead of an answer. */
  readonly error?: string;
  readonly status?: number;
  readonly body?: any;
}

function parse(text: string): Pick<RawAnswer, 'status' | 'body'> {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  const split = text.indexOf('\r\n\r\n');
  let body: unknown;
  if (split >= 0) {
    const raw = text.slice(split + 4);
    const chunked = /transfer-encoding: chunked/i.test(text.slice(0, split));
    const payload = chunked
      ? raw
          .split('\r\n')
          .filter((_, i) => i % 2 === 1)
          .join('')
      : raw;
    try {
      body = JSON.parse(payload);
    } catch {
      body = undefined;
    }
  }
  return { status: Number.isNaN(status) ? undefined : status, body };
}

/**
 * Writes `parts` to a fresh TCP connection (each part after the previous was flushed) and
 * resolves with what the server answered once it closes the connection, or once the
 * answer holds a whole JSON body. For what HTTP clients will not send: slow bodies,
 * oversized headers, broken encodings.
 */
export function rawExchange(port: number, parts: ReadonlyArray<string | Buffer>): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (error?: string): void => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve({ text, ...(error ? { error } : {}), ...parse(text) });
    };
    socket.on('data', (chunk) => {
      text += chunk.toString('utf8');
      const parsed = parse(text);
      if (parsed.status && parsed.body !== undefined) finish();
    });
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? err.message));
    socket.on('connect', async () => {
      for (const part of parts) {
        if (done) return;
        await new Promise<void>((r) => socket.write(part, () => r()));
      }
    });
  });
}
