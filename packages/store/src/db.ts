/**
 * The database handles. Two engines sit behind them, PostgreSQL through a `pg` pool and the
 * embedded PGlite, and both run the same SQL, so a repository never asks which one it has.
 * There are two kinds of handle, and the compiler keeps them apart: the deployment's
 * (`DeploymentDb`, what `openDatabase` returns: the relay, sweeps, migrations, metrics) and a
 * tenant's (`TenantDb`, made only by `forTenant`). Every function on a tenant's rows takes a
 * `TenantDb` and reads the tenant from it.
 */
import { escapeLiteral } from 'pg';

/**
 * What either handle does: statements on one engine. Only functions on tables no tenant owns
 * that both the deployment and a tenant's work use (the sync leases) take this.
 */
export interface SqlHandle {
  readonly kind: 'postgres' | 'pglite';
  /** One statement with `$1`-style parameters; returns its rows. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Cheap liveness probe for /ready. */
  ping(): Promise<void>;
}

/**
 * The deployment's connection to the store, unscoped: the pool itself, or one transaction on
 * it. It sees every tenant's rows and writes none of them (a tenant row needs a tenant: see
 * migration 20); `forTenant` turns it into one tenant's handle.
 */
export interface DeploymentDb extends SqlHandle {
  /**
   * Runs fn in one transaction (BEGIN/COMMIT, ROLLBACK on throw). Nested calls reuse the outer
   * transaction. `options.settings` are transaction-local settings (`set_config(name, value, true)`)
   * in force before fn runs; PostgreSQL gets them in the same round trip as BEGIN.
   */
  transaction<T>(fn: (tx: DeploymentDb) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Calls `onNotify` with the payload of each NOTIFY on `channel` (an SQL identifier), on a
   * connection of its own; resolves to the function that stops listening. Not allowed on a
   * transaction handle.
   */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  /** Releases the pool or the embedded database. Not allowed on a transaction handle. */
  close(): Promise<void>;
}

export interface TransactionOptions {
  /** Transaction-local settings (name → value), e.g. the tenant scope; names are plain identifiers. */
  readonly settings?: Readonly<Record<string, string>>;
}

/** Names `set_config` is given unquoted-safe: letters, digits, _ and one optional `.` namespace. */
const SETTING_NAME = /^[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?$/;

/**
 * One `SELECT set_config(...)` statement for the settings, values as SQL literals built by pg's
 * escapeLiteral (quotes doubled; an E'' literal with backslashes doubled when there is one), so
 * it can travel in a simple-query string with BEGIN, which takes no parameters. Undefined when none.
 */
export function settingsStatement(settings: Readonly<Record<string, string>> | undefined): string | undefined {
  const entries = Object.entries(settings ?? {});
  if (entries.length === 0) return undefined;
  const calls = entries.map(([name, value]) => {
    if (!SETTING_NAME.test(name)) throw new Error(`Not a setting name: ${name}`);
    if (typeof value !== 'string' || value.includes('\0')) throw new Error(`Not a setting value for ${name}`);
    return `set_config(${escapeLiteral(name)}, ${escapeLiteral(value)}, true)`;
  });
  return `SELECT ${calls.join(', ')}`;
}
