/**
 * The SQL one API command runs, captured at the pg driver (every `Client.query`: BEGIN with
 * the tenant settings, each statement, COMMIT, in order, with the connection it went on) and
 * replayed with fresh ids. The database-limit baseline (ingest bench) replays what the
 * product sends, so it cannot drift from it: a new statement in a screening is in the
 * baseline on the next run.
 */
import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import type { Pool, PoolClient } from 'pg';

/** One driver call: on which connection (numbered in capture order), its text, its values as pg sends them. */
export interface CapturedCall {
  readonly client: number;
  readonly text: string;
  readonly values?: Array<string | null>;
}

type PgModule = typeof import('pg');

/** The pg the store loads (the bench resolves `@kap/store` to its sources). */
export function storePg(): PgModule {
  const storeDir = dirname(require.resolve('@kap/store'));
  return require(require.resolve('pg', { paths: [storeDir] })) as PgModule;
}

/** Wraps pg's Client.query to record calls between start() and stop(); passes everything through. */
export function installCapture(pg: PgModule = storePg()): { start(): void; stop(): CapturedCall[] } {
  // pg's own conversion of a JS value to what it sends (JSON for objects, literals for arrays and dates).
  const { prepareValue } = require(require.resolve('pg/lib/utils', { paths: [dirname(require.resolve('pg'))] })) as {
    prepareValue(v: unknown): unknown;
  };
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  let recording: CapturedCall[] | undefined;
  proto.query = function (this: object, ...args: unknown[]): unknown {
    if (recording) {
      const config = args[0] as string | { text: string; values?: unknown[] };
      const text = typeof config === 'string' ? config : config.text;
      const raw = Array.isArray(args[1]) ? (args[1] as unknown[]) : typeof config === 'object' ? config.values : undefined;
      const values = raw?.map((v) => {
        const p = prepareValue(v);
        if (p !== null && typeof p !== 'string') throw new Error(`sql capture: a ${typeof p} parameter is not replayable`);
        return p;
      });
      recording.push({ client: clientNumber(this), text, ...(values ? { values } : {}) });
    }
    return original.apply(this, args);
  };
  const numbers = new WeakMap<object, number>();
  let nextNumber = 0;
  function clientNumber(client: object): number {
    let n = numbers.get(client);
    if (n === undefined) {
      n = nextNumber++;
      numbers.set(client, n);
    }
    return n;
  }
  return {
    start() {
      recording = [];
    },
    stop() {
      const out = recording ?? [];
      recording = undefined;
      return out;
    },
  };
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/**
 * Fresh values for one replay: every UUID the capture holds gets a new one (the same old id,
 * the same new id, across the scripts sharing this map), and each `renamed` string (a natural
 * key such as the hospital identifier) a fresh one of the same shape.
 */
export class FreshValues {
  private readonly ids = new Map<string, string>();
  private readonly names = new Map<string, string>();
  private static counter = 0;

  constructor(private readonly renamed: readonly string[]) {}

  apply(s: string): string {
    let out = s.replace(UUID, (old) => {
      let fresh = this.ids.get(old);
      if (!fresh) {
        fresh = randomUUID();
        this.ids.set(old, fresh);
      }
      return fresh;
    });
    for (const name of this.renamed) {
      if (!out.includes(name)) continue;
      let fresh = this.names.get(name);
      if (!fresh) {
        fresh = `${name}-r${process.pid}-${FreshValues.counter++}`;
        this.names.set(name, fresh);
      }
      out = out.split(name).join(fresh);
    }
    return out;
  }
}

/** True when the call opens a transaction (possibly with settings in the same string). */
const opens = (text: string): boolean => /^\s*BEGIN\b/i.test(text);
const closes = (text: string): boolean => /^\s*(COMMIT|ROLLBACK)\b/i.test(text);

/**
 * Sends the captured calls again, in their order, with fresh values: a connection from `pool`
 * per captured connection, held from BEGIN to COMMIT as the product holds it, and a lone
 * statement on a connection of its own. Sequential, as one request's calls mostly are.
 */
export async function replay(pool: Pool, calls: readonly CapturedCall[], fresh: FreshValues): Promise<void> {
  const open = new Map<number, PoolClient>();
  try {
    for (const call of calls) {
      let client = open.get(call.client);
      const begins = !client && opens(call.text);
      if (!client) client = await pool.connect();
      const text = fresh.apply(call.text);
      const values = call.values?.map((v) => (v === null ? null : fresh.apply(v)));
      try {
        await (values ? client.query(text, values) : client.query(text));
      } catch (error) {
        if (open.has(call.client) || begins) await client.query('ROLLBACK').catch(() => undefined);
        open.delete(call.client);
        client.release();
        throw new Error(`replay of "${call.text.slice(0, 120)}" failed: ${(error as Error).message}`);
      }
      if (begins) open.set(call.client, client);
      else if (!open.has(call.client) || closes(call.text)) {
        open.delete(call.client);
        client.release();
      }
    }
  } finally {
    for (const client of open.values()) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
  }
}

/** Statements a script runs (BEGIN, COMMIT and the settings not counted) and round trips (driver calls). */
export function countCalls(calls: readonly CapturedCall[]): { roundTrips: number; statements: number; transactions: number } {
  let statements = 0;
  let transactions = 0;
  for (const c of calls) {
    if (opens(c.text)) transactions++;
    else if (!closes(c.text)) statements++;
  }
  return { roundTrips: calls.length, statements, transactions };
}
