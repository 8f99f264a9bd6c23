import { parse as parseYaml } from 'yaml';
import { ConfigError, ConfigSchema, loadConfig, type Config } from './config';

/** The tenant of a deployment without a tenants file, and of every request while auth is off. */
export const DEFAULT_TENANT_ID = 'default';

/**
 * What a tenant id may look like. It travels in tokens, job data, log lines and the
 * database's per-transaction setting, so it is kept to characters that need no quoting
 * anywhere, and short.
 */
export const TENANT_ID_PATTERN = /^[a-z0-9](?:[a-z0-9_-]{0,62})$/;

/**
 * The settings a tenant may set for itself: its EHR connection, webhooks, clinical rules,
 * follow-up timing and hospital feed. Everything else belongs to the deployment (where it
 * listens, its database and Redis, authentication, job timings shared by one queue), and a
 * tenants file naming it is refused: one tenant must never redirect the others' data or
 * weaken their authentication. A setting added later is the deployment's until listed here.
 */
export const TENANT_SETTINGS: ReadonlySet<string> = new Set([
  'EHR_BASE_URL',
  'EHR_AUTH',
  'EHR_TOKEN',
  'EHR_TOKEN_URL',
  'EHR_CLIENT_ID',
  'EHR_CLIENT_SECRET',
  'EHR_PRIVATE_KEY',
  'EHR_KEY_ID',
  'EHR_SCOPE',
  'EHR_TIMEOUT_MS',
  'EHR_MAX_TRANSACTION_ENTRIES',
  'EHR_WRITE_MODE',
  'EHR_RESOURCE_TYPES',
  'EHR_UNCLAIMED_PROFILES',
  'EHR_CAPABILITIES_REFRESH_MS',
  'EHR_OBSERVATION_CATEGORIES',
  'EHR_PATIENT_RECHECK_MS',
  'EHR_SUBSCRIPTION_TOPIC_PATIENT',
  'EHR_SUBSCRIPTION_TOPIC_ENCOUNTER',
  'EHR_SUBSCRIPTION_CONTENT',
  'EHR_SUBSCRIPTION_STYLE',
  'EHR_SUBSCRIPTION_SECRET',
  'EHR_SUBSCRIPTION_TOKEN',
  'EHR_SUBSCRIPTION_TOKEN_URL',
  'EHR_SUBSCRIPTION_CLIENT_ID',
  'EHR_SUBSCRIPTION_CLIENT_SECRET',
  'EHR_SUBSCRIPTION_RENEW_WITHIN',
  'FOLLOW_UP_OFFSETS',
  'FOLLOW_UP_REMINDER_LEAD',
  'SESSION_BP_ALERT_SYSTOLIC_ABOVE',
  'SESSION_BP_ALERT_DIASTOLIC_ABOVE',
  'CLINIC_TIME_ZONE',
  'SAFETY_ALERT_ACK_WITHIN',
  'SAFETY_ESCALATION_WEBHOOK_URLS',
  'WEBHOOK_URLS',
  'WEBHOOK_SECRET',
  'SCREENING_BP_SYSTOLIC_ABOVE',
  'SCREENING_BP_DIASTOLIC_ABOVE',
  'SCREENING_SEVERITY_OVERRIDES',
  'HL7_ASSIGNING_AUTHORITIES',
  'HL7_SENDING_FACILITIES',
  'HL7_OUT_HOST',
  'HL7_OUT_PORT',
  'HL7_OUT_SENDING_FACILITY',
  'HL7_OUT_RECEIVING_APPLICATION',
  'HL7_OUT_RECEIVING_FACILITY',
  'DISCHARGE_STOP_CODES',
]);

export interface Tenant {
  readonly id: string;
  readonly name: string;
  /** The environment with the tenant's own settings laid over it, parsed like the environment. */
  readonly config: Config;
}

/** The tenants this deployment serves, each with its whole configuration. */
export interface Tenants {
  readonly ids: readonly string[];
  get(id: string): Tenant | undefined;
  has(id: string): boolean;
  all(): readonly Tenant[];
}

/** The tenants file as read from disk; `path` only decides JSON or YAML and names the file in errors. */
export interface TenantsFileText {
  readonly path: string;
  readonly text: string;
}

/**
 * The deployment's tenants: from the tenants file when there is one, else the single
 * `default` tenant on the environment. A bad file stops start-up with every problem
 * named by tenant and setting.
 */
export function loadTenants(env: Readonly<Record<string, string | undefined>>, file?: TenantsFileText): Tenants {
  if (!file) return singleTenant(loadConfig(env));
  const raw = parseTenantsText(file);
  const problems: string[] = [];
  const tenants: Tenant[] = [];
  if (typeof raw !== 'object' || raw === null || !Array.isArray((raw as { tenants?: unknown }).tenants)) {
    throw new ConfigError(`Invalid tenants file ${file.path}:\n  tenants: must be a list of { id, name, env }`);
  }
  const entries = (raw as { tenants: unknown[] }).tenants;
  if (entries.length === 0) problems.push('  tenants: the list is empty; name at least one tenant');
  const seen = new Set<string>();
  entries.forEach((entry, index) => {
    const where = `tenants[${index}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`  ${where}: must be an object { id, name, env }`);
      return;
    }
    const { id, name, env: own, ...extra } = entry as Record<string, unknown>;
    // An id is echoed only once it is known to be safe to print.
    const label = typeof id === 'string' && TENANT_ID_PATTERN.test(id) ? `${where} (tenant "${id}")` : where;
    for (const key of Object.keys(extra)) problems.push(`  ${label}.${key}: not a tenant field (id, name, env)`);
    if (typeof id !== 'string' || !TENANT_ID_PATTERN.test(id)) {
      problems.push(`  ${label}.id: must match ${TENANT_ID_PATTERN.source} (lower-case letters, digits, - and _, at most 63)`);
      return;
    }
    if (seen.has(id)) problems.push(`  ${label}.id: "${id}" is named twice`);
    seen.add(id);
    if (name !== undefined && (typeof name !== 'string' || name.trim() === ''))
      problems.push(`  ${label}.name: must be a non-empty string`);
    const settings = tenantSettings(own, label, problems);
    if (!settings) return;
    try {
      tenants.push({ id, name: typeof name === 'string' && name.trim() ? name.trim() : id, config: loadConfig({ ...env, ...settings }) });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const line of err.message.split('\n').slice(1)) problems.push(`  ${label}.env.${line.trim()}`);
    }
  });
  if (problems.length > 0) throw new ConfigError(`Invalid tenants file ${file.path}:\n${problems.join('\n')}`);
  return registry(tenants);
}

/** One `default` tenant on the given configuration: the deployment without a tenants file. */
export function singleTenant(config: Config): Tenants {
  return registry([{ id: DEFAULT_TENANT_ID, name: DEFAULT_TENANT_ID, config }]);
}

function registry(list: readonly Tenant[]): Tenants {
  const byId = new Map(list.map((t) => [t.id, Object.freeze(t)]));
  const ids = Object.freeze([...byId.keys()]);
  return Object.freeze({
    ids,
    get: (id: string) => byId.get(id),
    has: (id: string) => byId.has(id),
    all: () => [...byId.values()],
  });
}

function parseTenantsText(file: TenantsFileText): unknown {
  const json = /\.json$/i.test(file.path);
  try {
    return json ? JSON.parse(file.text) : parseYaml(file.text);
  } catch (err) {
    throw new ConfigError(
      `Invalid tenants file ${file.path}: not ${json ? 'JSON' : 'YAML'} (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`,
    );
  }
}

/**
 * A tenant's `env` as environment strings. YAML gives numbers, booleans, lists (for
 * comma-separated settings) and maps (SCREENING_SEVERITY_OVERRIDES), so they are written
 * back as the environment would hold them.
 */
function tenantSettings(own: unknown, label: string, problems: string[]): Record<string, string> | undefined {
  if (own === undefined) return {};
  if (typeof own !== 'object' || own === null || Array.isArray(own)) {
    problems.push(`  ${label}.env: must be an object of settings`);
    return undefined;
  }
  const known = new Set(Object.keys(ConfigSchema.shape));
  const out: Record<string, string> = {};
  let ok = true;
  for (const [key, value] of Object.entries(own)) {
    if (!known.has(key)) {
      problems.push(`  ${label}.env.${key}: not a setting`);
      ok = false;
    } else if (!TENANT_SETTINGS.has(key)) {
      problems.push(`  ${label}.env.${key}: belongs to the deployment and cannot be set per tenant`);
      ok = false;
    } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      out[key] = String(value);
    } else if (Array.isArray(value) && value.every((v) => typeof v === 'string' || typeof v === 'number')) {
      out[key] = value.join(',');
    } else if (key === 'SCREENING_SEVERITY_OVERRIDES' && typeof value === 'object' && value !== null) {
      out[key] = JSON.stringify(value);
    } else {
      problems.push(`  ${label}.env.${key}: must be a string, number, boolean or list`);
      ok = false;
    }
  }
  return ok ? out : undefined;
}
