import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig, loadTenants, openAccessRefusal, type Config, type Tenants } from '@kap/config';

export interface ProcessSettings {
  readonly config: Config;
  readonly tenants: Tenants;
}

export interface ProcessSettingsOptions {
  /** A process that serves the API refuses an open API on a network address before it starts anything. */
  readonly servesApi?: boolean;
}

/**
 * The configuration every service process starts from: the environment, and the tenants
 * file it names (read here, at the edge; parsing and checking it is @kap/config's).
 */
export function loadProcessSettings(
  env: Readonly<Record<string, string | undefined>>,
  options: ProcessSettingsOptions = {},
): ProcessSettings {
  const config = loadConfig(env);
  const tenants = loadTenants(
    env,
    config.TENANTS_FILE ? { path: config.TENANTS_FILE, text: readTenantsFile(config.TENANTS_FILE) } : undefined,
  );
  const refusal = options.servesApi ? openAccessRefusal(config) : undefined;
  if (refusal) throw new ConfigError(refusal);
  return { config, tenants };
}

function readTenantsFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`Invalid configuration:\n  TENANTS_FILE: cannot be read (${err instanceof Error ? err.message : String(err)})`);
  }
}
