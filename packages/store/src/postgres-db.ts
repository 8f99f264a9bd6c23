import { Client, Pool, type PoolClient } from 'pg';
import { settingsStatement, type DeploymentDb, type TransactionOptions } from './db';

export interface PostgresDbOptions {
  url: string;
  schema?: string;
  poolSize?: number;
  onPoolError?: (error: Error) => void;
}

/**
 * A deployment handle over a pg Pool. The search_path is a connection option rather than a `SET` after
 * connecting, so every pooled connection has it before its first query.
 */
export function openPostgresDb(opts: PostgresDbOptions): DeploymentDb {
  const pool = new Pool({
    connectionString: opts.url,
    max: opts.poolSize ?? 10,
    // Waiting for a connection is bounded: an exhausted pool becomes an error (503, or a job
    // retry) instead of requests and jobs that hang with no end.
    connectionTimeoutMillis: 10_000,
    ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
  });
  // An idle client's error is emitted on the pool; with no listener Node would crash.
  pool.on('error', (error) => opts.onPoolError?.(error));
  let closed = false;

  const db: DeploymentDb = {
    kind: 'postgres',
    async query<T>(sql: string, params?: unknown[]): Promise<T[]> {
      const result = await pool.query(sql, params);
      return result.rows as T[];
    },
    async transaction<T>(fn: (tx: DeploymentDb) => Promise<T>, options?: TransactionOptions): Promise<T> {
      const settings = settingsStatement(options?.settings);
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        const tx = clientDb(client);
        try {
          // With settings, one simple-query string (no parameters, so several statements may
          // travel together): BEGIN and the settings cost one round trip instead of two. A
          // failing setting leaves the transaction open and aborted: the ROLLBACK below ends it.
          await client.query(settings ? `BEGIN; ${settings}` : 'BEGIN');
          const result = await fn(tx.db);
          await client.query('COMMIT');
          return result;
        } catch (error) {
          try {
            await client.query('ROLLBACK');
          } catch (rollbackError) {
            // The connection is unusable; destroy it instead of returning it to the pool.
            broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
          }
          throw error;
        } finally {
          tx.end();
        }
      } finally {
        client.release(broken);
      }
    },
    async ping(): Promise<void> {
      await pool.query('SELECT 1');
    },
    async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
      assertChannel(channel);
      // Its own connection: LISTEN holds the session, which a pooled connection cannot.
      const client = new Client({ connectionString: opts.url });
      // A broken listener only costs latency: whoever listens also polls.
      client.on('error', () => undefined);
      client.on('notification', (message) => {
        if (message.channel === channel) onNotify(message.payload ?? '');
      });
      await client.connect();
      await client.query(`LISTEN ${channel}`);
      return async () => {
        await client.end().catch(() => undefined);
      };
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
  return db;
}

/** The handle handed to a transaction body: one client, refusing use once the transaction ends. */
function clientDb(client: PoolClient): { db: DeploymentDb; end: () => void } {
  let ended = false;
  const guard = (): void => {
    if (ended) throw new Error('This transaction has ended; use the outer handle');
  };
  const db: DeploymentDb = {
    kind: 'postgres',
    async query<T>(sql: string, params?: unknown[]): Promise<T[]> {
      guard();
      const result = await client.query(sql, params);
      return result.rows as T[];
    },
    async transaction<T>(fn: (tx: DeploymentDb) => Promise<T>, options?: TransactionOptions): Promise<T> {
      guard();
      const settings = settingsStatement(options?.settings);
      if (settings) await client.query(settings);
      return fn(db);
    },
    async ping(): Promise<void> {
      guard();
      await client.query('SELECT 1');
    },
    async listen(): Promise<() => Promise<void>> {
      throw new Error('Listen on the database, not a transaction');
    },
    async close(): Promise<void> {
      throw new Error('Close the database, not a transaction');
    },
  };
  return { db, end: () => (ended = true) };
}

/** LISTEN takes an identifier, not a parameter: only plain lower-case names are let through. */
export function assertChannel(channel: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`Not a channel name: ${channel}`);
}
