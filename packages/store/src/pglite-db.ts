import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { settingsStatement, type DeploymentDb, type TransactionOptions } from './db';
import { assertChannel } from './postgres-db';

export interface PgliteDbOptions {
  dataDir?: string;
  schema?: string;
}

/**
 * A deployment handle over the embedded PGlite, for running without a PostgreSQL server. PGlite is one
 * connection: it queues a query on the root handle behind an open transaction, so code
 * inside `transaction` must use the `tx` it was given, or it waits forever.
 */
export async function openPgliteDb(opts: PgliteDbOptions): Promise<DeploymentDb> {
  // PGlite creates its own folder but not the parents (`.data/postgres` on a fresh clone).
  if (opts.dataDir) await mkdir(dirname(resolve(opts.dataDir)), { recursive: true });
  const pg = await PGlite.create(opts.dataDir);
  // One connection, so a session-level SET is the search_path for every later query.
  if (opts.schema) await pg.query(`SET search_path TO ${opts.schema}`);
  let closed = false;

  const db: DeploymentDb = {
    kind: 'pglite',
    async query<T>(sql: string, params?: unknown[]): Promise<T[]> {
      const result = await pg.query<T>(sql, params);
      return result.rows;
    },
    async transaction<T>(fn: (tx: DeploymentDb) => Promise<T>, options?: TransactionOptions): Promise<T> {
      const settings = settingsStatement(options?.settings);
      return pg.transaction(async (raw) => {
        // In process, so no round trip to save: the settings go right after PGlite's BEGIN.
        if (settings) await raw.query(settings);
        const tx = transactionDb(raw);
        try {
          return await fn(tx.db);
        } finally {
          tx.end();
        }
      });
    },
    async ping(): Promise<void> {
      await pg.query('SELECT 1');
    },
    async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
      assertChannel(channel);
      return pg.listen(channel, onNotify);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await pg.close();
    },
  };
  return db;
}

function transactionDb(raw: Transaction): { db: DeploymentDb; end: () => void } {
  let ended = false;
  const guard = (): void => {
    if (ended) throw new Error('This transaction has ended; use the outer handle');
  };
  const db: DeploymentDb = {
    kind: 'pglite',
    async query<T>(sql: string, params?: unknown[]): Promise<T[]> {
      guard();
      const result = await raw.query<T>(sql, params);
      return result.rows;
    },
    async transaction<T>(fn: (tx: DeploymentDb) => Promise<T>, options?: TransactionOptions): Promise<T> {
      guard();
      const settings = settingsStatement(options?.settings);
      if (settings) await raw.query(settings);
      return fn(db);
    },
    async ping(): Promise<void> {
      guard();
      await raw.query('SELECT 1');
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
