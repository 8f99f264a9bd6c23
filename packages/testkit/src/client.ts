import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createKapClient, KapApiError, type KapClient, type KapClientOptions } from '@kap/client';
import type { Express } from 'express';

export interface ServedClient {
  /** The typed client, calling the app over real HTTP as a hospital's code would. */
  readonly kap: KapClient;
  /** Where the app answers, for a second client (another token, none at all). */
  readonly baseUrl: string;
  close(): Promise<void>;
}

/**
 * Serves `app` on a loopback port and returns `@kap/client` pointed at it: the e2e tests
 * drive the public contract through the SDK, so a change that breaks its callers fails them.
 */
export async function serveClient(app: Express, options: Omit<KapClientOptions, 'baseUrl'> = {}): Promise<ServedClient> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    kap: createKapClient({ baseUrl, ...options }),
    baseUrl,
    close: () =>
      new Promise<void>((resolve, reject) => {
        // Keep-alive sockets of fetch would hold close() open until they time out.
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** The `KapApiError` a call is refused with; fails when it succeeds or fails otherwise (no answer, a bug). */
export async function refusal(call: Promise<unknown>): Promise<KapApiError> {
  const outcome = await call.then(
    (value: unknown) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if ('value' in outcome) throw new Error(`expected the call to be refused, it answered ${JSON.stringify(outcome.value)?.slice(0, 200)}`);
  if (outcome.error instanceof KapApiError) return outcome.error;
  throw outcome.error;
}
