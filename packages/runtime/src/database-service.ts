import { databaseOptions } from '@kap/config';
import { openDatabase, type DeploymentDb } from '@kap/store';
import pino, { type Logger } from 'pino';
import type { Lifecycle } from './lifecycle';
import { runService, type ServiceHost } from './service';
import { loadProcessSettings, type ProcessSettings } from './settings';

export interface DatabaseServiceSpec<S extends ProcessSettings> {
  readonly name: string;
  /** A process that serves the API (see `loadProcessSettings`); ignored when `settings` is given. */
  readonly servesApi?: boolean;
  /** The settings, when a service checks more than the common ones; they must all be checked here. */
  readonly settings?: (env: Readonly<Record<string, string | undefined>>) => S;
  /** Whether every log line names the service (`service: <name>`); a process of several services names them on child loggers. */
  readonly nameInLogs?: boolean;
  readonly shutdownTimeoutMs: number;
  /** Starts the service's parts on the opened database, registering each one's close with `lifecycle.onStop`. */
  readonly start: (settings: S, db: DeploymentDb, lifecycle: Lifecycle, logger: Logger) => Promise<void>;
}

/**
 * A service process on the database (api, worker, mllp, standalone): `runService` with the
 * settings checked first, a pino logger at LOG_LEVEL, and the database opened before the
 * service's parts and closed after them.
 */
export function runDatabaseService<S extends ProcessSettings = ProcessSettings>(
  spec: DatabaseServiceSpec<S>,
  host?: ServiceHost,
): Promise<void> {
  return runService<S, Logger>(
    {
      name: spec.name,
      settings: spec.settings ?? ((env) => loadProcessSettings(env, { servesApi: spec.servesApi ?? false }) as S),
      logger: ({ config }) => pino({ level: config.LOG_LEVEL, ...(spec.nameInLogs === false ? {} : { base: { service: spec.name } }) }),
      shutdownTimeoutMs: spec.shutdownTimeoutMs,
      start: async (settings, lifecycle, logger) => {
        const db = await openDatabase(databaseOptions(settings.config));
        lifecycle.onStop('database', () => db.close());
        await spec.start(settings, db, lifecycle, logger);
      },
    },
    host,
  );
}
