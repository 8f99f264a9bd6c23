import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Sandbox, SandboxOptions } from './sandbox';
import { createSandbox, FHIR_BASE_PATH } from './sandbox';

/** Options of {@link startSandbox}: the sandbox's plus where to listen. */
export interface StartSandboxOptions extends SandboxOptions {
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  /** Interface to bind; default 127.0.0.1 so the sandbox is never exposed by accident. */
  readonly host?: string;
}

/** A listening sandbox. */
export interface RunningSandbox {
  /** FHIR base URL, e.g. `http://127.0.0.1:3100/fhir/R4`. */
  readonly url: string;
  /** Server root URL, for `/oauth2/token` and `/__admin`. */
  readonly rootUrl: string;
  readonly sandbox: Sandbox;
  /** Stops listening and drops open keep-alive connections. */
  close(): Promise<void>;
}

/**
 * Creates a sandbox and listens on `host:port`.
 * @see http://hl7.org/fhir/R4/http.html#root (the service base URL)
 */
export async function startSandbox(options: StartSandboxOptions): Promise<RunningSandbox> {
  const sandbox = createSandbox(options);
  const host = options.host ?? '127.0.0.1';
  const server = await listen(sandbox, options.port, host);
  const { port } = server.address() as AddressInfo;
  const rootUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url: `${rootUrl}${FHIR_BASE_PATH}`,
    rootUrl,
    sandbox,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function listen(sandbox: Sandbox, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = sandbox.app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(server)));
    server.once('error', reject);
  });
}
