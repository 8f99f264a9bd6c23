import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';

/**
 * The service's whole configuration, parsed once from the environment in each `main.ts`
 * and passed down. Every variable, its default and its meaning is listed here and in the
 * README's configuration table; nothing else reads `process.env`.
 */

const port = z.coerce.number().int().min(0).max(65535);
const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v ? v : undefined));
const positiveInt = z.coerce.number().int().positive();
/** An ISO 8601 duration of weeks, days, hours, minutes, seconds, longer than zero. */
const ISO_DURATION = /^P(?!$)(?=.*[1-9])(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$/;

/** An IANA zone name the runtime knows; offsets (`+01:00`) and abbreviations are not zones. */
function isIanaTimeZone(name: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export const ConfigSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: port.default(3000),
    HOST: z.string().default('127.0.0.1'),
    PUBLIC_BASE_URL: optionalText.pipe(z.url().optional()),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    BODY_LIMIT: z.string().default('1mb'),
    /** `jwt`: every non-public path needs a bearer JWT from AUTH_ISSUER; `none`: open, allowed only on a loopback HOST. */
    AUTH_MODE: z.enum(['none', 'jwt']).default('none'),
    /** The `iss` every token must carry. */
    AUTH_ISSUER: optionalText,
    /** The `aud` every token must carry (this API). */
    AUTH_AUDIENCE: optionalText,
    /** The issuer's JWKS; cached, and read again when a token names a key it does not hold (key rotation). */
    AUTH_JWKS_URL: optionalText.pipe(z.url().optional()),
    /** A JWKS file instead of AUTH_JWKS_URL; read again when a token names a key it does not hold. */
    AUTH_JWKS_FILE: optionalText,
    /** The claim that names the caller's tenant. */
    AUTH_TENANT_CLAIM: z.string().default('tenant'),
    /** The issuer's token endpoint, published at /.well-known/smart-configuration. */
    AUTH_TOKEN_URL: optionalText.pipe(z.url().optional()),
    /** Seconds of clock difference tolerated on exp and nbf. */
    AUTH_CLOCK_TOLERANCE_S: z.coerce.number().int().min(0).max(300).default(5),
    /**
     * Proxies in front of the API whose X-Forwarded-For is believed (Express "trust proxy"): a
     * hop count (`1` behind one ingress) or comma-separated addresses/subnets. Unset: none, and
     * every client is the address that connected. The per-address limit needs the real client address.
     */
    TRUST_PROXY: optionalText,
    /** Comma-separated browser origins (exact, e.g. `https://kap.hospital.example`) allowed to call the API cross-origin; unset: none. */
    CORS_ORIGINS: optionalText,
    /** Requests a minute one client (tenant + client id) may make; replicas share the budget through Redis. */
    RATE_LIMIT_PER_MINUTE: positiveInt.default(1200),
    /** Refused (401) requests a minute one IP address may make before every request from it is 429 until the minute is over. */
    RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: positiveInt.default(120),

    /** The tenants served, JSON or YAML (docs/api.md#authentication-and-tenants); unset: one tenant `default` on this environment. */
    TENANTS_FILE: optionalText,

    DATABASE_URL: optionalText,
    /** PostgreSQL schema for this deployment's tables (created if missing); default the connection's search_path. */
    DATABASE_SCHEMA: optionalText.pipe(
      z
        .string()
        .regex(/^[a-z_][a-z0-9_]{0,62}$/)
        .optional(),
    ),
    DATA_DIR: z.string().default('.data'),
    REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
    /** Base of every BullMQ key prefix; the database's deployment id is appended, so installs sharing one Redis never share jobs. */
    QUEUE_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .default('kap'),
    /** How long a job's lock lasts without renewal: a killed worker's job is retried after this. */
    JOB_LOCK_MS: positiveInt.default(30_000),
    /** How long a worker may hold a patient's EHR-write lease; a killed holder releases it by expiring. */
    SYNC_LEASE_MS: positiveInt.default(120_000),

    EHR_BASE_URL: optionalText.pipe(z.url().optional()),
    EHR_AUTH: z.enum(['none', 'bearer', 'client-credentials', 'smart-backend']).default('none'),
    EHR_TOKEN: optionalText,
    EHR_TOKEN_URL: optionalText.pipe(z.url().optional()),
    EHR_CLIENT_ID: optionalText,
    EHR_CLIENT_SECRET: optionalText,
    EHR_PRIVATE_KEY: optionalText,
    EHR_KEY_ID: optionalText,
    /** Unset: one scope per type the adapter uses, derived from the write plan and the EHR's CapabilityStatement. */
    EHR_SCOPE: optionalText,
    EHR_TIMEOUT_MS: positiveInt.default(15000),
    EHR_SANDBOX_PORT: port.default(3100),
    /** Most entries in one transaction Bundle; real servers refuse bigger ones (Medplum: 8 with conditional entries). */
    EHR_MAX_TRANSACTION_ENTRIES: positiveInt.default(8),
    /** How writes travel: `auto` (from the CapabilityStatement), `transaction`, `batch` or `single` requests. */
    EHR_WRITE_MODE: z.enum(['auto', 'transaction', 'batch', 'single']).default('auto'),
    /** Comma-separated resource types this EHR takes (unset: what its CapabilityStatement lists); the rest stay here as `not-sent`. */
    EHR_RESOURCE_TYPES: optionalText,
    /**
     * Comma-separated profile URLs never claimed in `meta.profile` towards this EHR (ones it validates wrongly); `ehr:check --write-test`
     * finds them.
     */
    EHR_UNCLAIMED_PROFILES: optionalText,
    /** How long the EHR's CapabilityStatement is trusted before it is read again. */
    EHR_CAPABILITIES_REFRESH_MS: positiveInt.default(600_000),
    /** Comma-separated Observation categories this EHR takes (e.g. `vital-signs,survey`; unset: all); the rest stay here as `not-sent`. */
    EHR_OBSERVATION_CATEGORIES: optionalText,
    /** Where the EHR may not create a Patient: how soon a sync waiting for the hospital's Patient looks again (doubling up to 64x). */
    EHR_PATIENT_RECHECK_MS: positiveInt.default(300_000),

    FOLLOW_UP_OFFSETS: z.string().default('PT24H,PT72H,P7D'),
    /** How long before a follow-up is due its reminder goes to the care team (capped at half the offset). */
    FOLLOW_UP_REMINDER_LEAD: z.string().default('PT2H'),
    SESSION_BP_ALERT_SYSTOLIC_ABOVE: z.coerce.number().positive().default(180),
    SESSION_BP_ALERT_DIASTOLIC_ABOVE: z.coerce.number().positive().default(110),
    /**
     * The clinic's IANA time zone (e.g. `Europe/Berlin`): every calendar-day decision (a course's
     * first day, "before the course started", 90 days after it stopped, the screening day) and
     * the times the course page shows. Unset: UTC, with a warning at start in production.
     */
    CLINIC_TIME_ZONE: optionalText.pipe(
      z.string().refine(isIanaTimeZone, 'not an IANA time zone name (e.g. Europe/Berlin, America/Los_Angeles)').optional(),
    ),
    /**
     * A safety alert (PHQ-9 item 9, in-session blood pressure) not acknowledged within this ISO 8601 duration escalates, and again at each
     * further interval.
     */
    SAFETY_ALERT_ACK_WITHIN: z
      .string()
      .regex(ISO_DURATION, 'an ISO 8601 duration of weeks, days, hours, minutes or seconds, e.g. PT30M')
      .default('PT30M'),
    /** Comma-separated URLs that receive escalated safety alerts (signed like the webhooks); unset: WEBHOOK_URLS. */
    SAFETY_ESCALATION_WEBHOOK_URLS: optionalText,

    WORKER_ID: optionalText,
    /** A worker running as its own process serves Prometheus metrics on this port (unset: none). */
    METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
    SYNC_CONCURRENCY: positiveInt.default(4),
    SYNC_BACKOFF_BASE_MS: positiveInt.default(2000),
    SYNC_BACKOFF_CAP_MS: positiveInt.default(300_000),
    /** Retries of an EHR write span at least this long before it becomes a dead letter. */
    SYNC_MAX_OUTAGE: z.string().default('PT1H'),
    RELAY_INTERVAL_MS: positiveInt.default(500),
    /** A dispatched outbox row not done after this long is checked against Redis and re-queued if its job was lost. */
    REDISPATCH_AFTER_MS: positiveInt.default(30_000),
    /** A change pending this long with no sync asked for is re-queued by the worker's sweep (ISO 8601 duration). */
    SYNC_STALE_AFTER: z.string().default('PT15M'),
    /** How often that sweep runs. */
    SYNC_STALE_SWEEP_MS: positiveInt.default(60_000),

    /** `true`: every AuditEvent also goes to the EHR through the outbox, as the clinical resources do. */
    EHR_SYNC_AUDIT: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true'),
    /** AuditEvents of reads are written in batches of at most this many... */
    AUDIT_BATCH_SIZE: positiveInt.max(5000).default(200),
    /** ...or after at most this long, whichever comes first. */
    AUDIT_FLUSH_MS: positiveInt.default(1000),

    /** Comma-separated URLs that receive signed CarePlan and care-team webhooks. */
    WEBHOOK_URLS: optionalText,
    WEBHOOK_SECRET: optionalText,
    WEBHOOK_ATTEMPTS: positiveInt.default(12),
    SCREENING_BP_SYSTOLIC_ABOVE: z.coerce.number().positive().default(140),
    SCREENING_BP_DIASTOLIC_ABOVE: z.coerce.number().positive().default(90),
    /** JSON object of contraindication key -> `absolute` | `caution`, on top of the defaults. */
    SCREENING_SEVERITY_OVERRIDES: optionalText,

    /** A client must send its request headers within this long, or gets 408 and its connection closed. */
    HTTP_HEADERS_TIMEOUT_MS: positiveInt.default(30_000),
    /** A request body must arrive within this long after its headers, or the client gets 408. */
    HTTP_BODY_TIMEOUT_MS: positiveInt.default(30_000),
    /** An idle keep-alive connection is closed after this long. */
    HTTP_KEEP_ALIVE_TIMEOUT_MS: positiveInt.default(5_000),
    /** Largest request line plus headers, in bytes; larger is 431. */
    HTTP_MAX_HEADER_BYTES: positiveInt.max(1_048_576).default(16_384),
    /** TCP port of the HL7 v2 MLLP listener (ADT from the hospital); unset: no listener. */
    MLLP_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    /** Address the MLLP listener binds; MLLP has no authentication, so keep it on the interface engine's network. */
    MLLP_HOST: z.string().default('127.0.0.1'),
    /** Largest HL7 message accepted, in bytes; a larger one is answered AR and kept (truncated) for an operator. */
    MLLP_MAX_MESSAGE_BYTES: positiveInt.default(1_048_576),
    /** A connection silent this long is closed (interface engines reconnect). */
    MLLP_IDLE_TIMEOUT_MS: positiveInt.default(300_000),
    /** Comma-separated `CX.4.1=system URI` pairs mapping PID-3 assigning authorities to identifier systems, e.g. `HOSP=urn:oid:1.2.3`. */
    HL7_ASSIGNING_AUTHORITIES: optionalText,
    /**
     * Comma-separated MSH-4 sending facilities (HD.1) whose HL7 messages are this tenant's; needed when several tenants share the MLLP
     * listener.
     */
    HL7_SENDING_FACILITIES: optionalText,
    /**
     * The hospital's interface engine that takes ORU^R01 (vital signs, PHQ-9/GAD-7 totals) and MDM^T02 (notes) over MLLP; unset: no HL7 v2
     * is sent.
     */
    HL7_OUT_HOST: optionalText,
    HL7_OUT_PORT: z.coerce.number().int().min(1).max(65535).optional(),
    /** How long to wait for the engine's ACK (ISO 8601 duration) before the message is retried (with backoff, same MSH-10). */
    HL7_OUT_ACK_TIMEOUT: z
      .string()
      .regex(ISO_DURATION, 'an ISO 8601 duration of weeks, days, hours, minutes or seconds, e.g. PT30S')
      .default('PT30S'),
    /** MSH-3 / MSH-4 of what we send: this adapter as the engine knows it. */
    HL7_OUT_SENDING_APPLICATION: z.string().trim().min(1).default('KAP'),
    HL7_OUT_SENDING_FACILITY: z.string().trim().min(1).default('KAP'),
    /** MSH-5 / MSH-6 of what we send: the receiving application and facility the engine routes on. */
    HL7_OUT_RECEIVING_APPLICATION: optionalText,
    HL7_OUT_RECEIVING_FACILITY: optionalText,
    /**
     * Comma-separated discharge dispositions (PV1-36, Encounter.hospitalization.dischargeDisposition) that stop a course as `discharged`,
     * e.g. `50,51`.
     */
    DISCHARGE_STOP_CODES: optionalText,
    /** `npm run ehr:subscribe`: the EHR's SubscriptionTopic canonical URLs for Patient and Encounter changes. */
    EHR_SUBSCRIPTION_TOPIC_PATIENT: z.string().default('https://kap-adapter.org/fhir/SubscriptionTopic/patient-change'),
    EHR_SUBSCRIPTION_TOPIC_ENCOUNTER: z.string().default('https://kap-adapter.org/fhir/SubscriptionTopic/encounter-change'),
    /** What the EHR's notifications carry: `id-only` (the adapter reads the resource) or `full-resource`. */
    EHR_SUBSCRIPTION_CONTENT: z.enum(['id-only', 'full-resource']).default('id-only'),
    /**
     * `npm run ehr:subscribe`: classic R4 Subscriptions (a search criteria; the rest-hook
     * posts the resource) or the R4 backport (topics); `auto` reads the EHR's CapabilityStatement.
     */
    EHR_SUBSCRIPTION_STYLE: z.enum(['auto', 'classic', 'backport']).default('auto'),
    /**
     * Shared secret for signed rest-hooks: put on classic Subscriptions (Medplum's
     * subscription-secret extension) and, when set, required as the body's `X-Signature`
     * (hex HMAC-SHA256) on `POST /v1/ehr-notifications`.
     */
    EHR_SUBSCRIPTION_SECRET: optionalText,
    /**
     * The token the EHR presents with its notifications (`Authorization: Bearer`), minted by
     * the deployment's issuer for the EHR's client with kap/v1.write (and the tenant claim).
     * A fixed token expires; EHR_SUBSCRIPTION_TOKEN_URL lets the worker renew it instead.
     */
    EHR_SUBSCRIPTION_TOKEN: optionalText,
    /**
     * The issuer's token endpoint for the notification token: the worker asks it
     * (OAuth client credentials, EHR_SUBSCRIPTION_CLIENT_ID/SECRET) for a new token before the
     * one on the EHR's Subscriptions expires, and puts it there.
     */
    EHR_SUBSCRIPTION_TOKEN_URL: optionalText.pipe(z.url().optional()),
    EHR_SUBSCRIPTION_CLIENT_ID: optionalText,
    EHR_SUBSCRIPTION_CLIENT_SECRET: optionalText,
    /** Renew the notification token when it has less than this long left (ISO 8601 duration). */
    EHR_SUBSCRIPTION_RENEW_WITHIN: z
      .string()
      .regex(ISO_DURATION, 'an ISO 8601 duration of weeks, days, hours, minutes or seconds, e.g. PT1H')
      .default('PT1H'),
    /** How often the worker looks at each tenant's notification token, in ms. */
    EHR_SUBSCRIPTION_RENEW_CHECK_MS: z.coerce.number().int().min(1_000).default(300_000),
  })
  .superRefine((c, ctx) => {
    const need = (cond: boolean, key: string, why: string): void => {
      if (!cond) ctx.addIssue({ code: 'custom', path: [key], message: why });
    };
    if (c.EHR_AUTH === 'bearer') need(!!c.EHR_TOKEN, 'EHR_TOKEN', 'required when EHR_AUTH=bearer');
    if (c.EHR_AUTH === 'client-credentials' || c.EHR_AUTH === 'smart-backend') {
      need(!!c.EHR_TOKEN_URL, 'EHR_TOKEN_URL', `required when EHR_AUTH=${c.EHR_AUTH}`);
      need(!!c.EHR_CLIENT_ID, 'EHR_CLIENT_ID', `required when EHR_AUTH=${c.EHR_AUTH}`);
    }
    if (c.EHR_AUTH === 'client-credentials') need(!!c.EHR_CLIENT_SECRET, 'EHR_CLIENT_SECRET', 'required when EHR_AUTH=client-credentials');
    if (c.EHR_AUTH === 'smart-backend') {
      need(!!c.EHR_PRIVATE_KEY, 'EHR_PRIVATE_KEY', 'required when EHR_AUTH=smart-backend');
      need(!!c.EHR_KEY_ID, 'EHR_KEY_ID', 'required when EHR_AUTH=smart-backend');
    }
    if (c.EHR_SUBSCRIPTION_TOKEN_URL) {
      need(!!c.EHR_SUBSCRIPTION_CLIENT_ID, 'EHR_SUBSCRIPTION_CLIENT_ID', 'required when EHR_SUBSCRIPTION_TOKEN_URL is set');
      need(!!c.EHR_SUBSCRIPTION_CLIENT_SECRET, 'EHR_SUBSCRIPTION_CLIENT_SECRET', 'required when EHR_SUBSCRIPTION_TOKEN_URL is set');
    }
    if (c.AUTH_MODE === 'jwt') {
      need(!!c.AUTH_ISSUER, 'AUTH_ISSUER', 'required when AUTH_MODE=jwt');
      need(!!c.AUTH_AUDIENCE, 'AUTH_AUDIENCE', 'required when AUTH_MODE=jwt');
      need(
        !!c.AUTH_JWKS_URL !== !!c.AUTH_JWKS_FILE,
        'AUTH_JWKS_URL',
        'exactly one of AUTH_JWKS_URL and AUTH_JWKS_FILE is required when AUTH_MODE=jwt',
      );
      need(
        !!c.AUTH_TOKEN_URL,
        'AUTH_TOKEN_URL',
        'required when AUTH_MODE=jwt: /.well-known/smart-configuration tells clients where to get tokens',
      );
    }
    if (c.TRUST_PROXY && /^(true|\*)$/i.test(c.TRUST_PROXY)) {
      ctx.addIssue({
        code: 'custom',
        path: ['TRUST_PROXY'],
        message: "trusting every proxy lets any client forge its address: give a hop count or the proxies' addresses",
      });
    }
    for (const origin of listSetting(c.CORS_ORIGINS)) {
      // Browsers send the origin exactly (scheme, host, port, no path): anything else would never match.
      if (!URL.canParse(origin) || new URL(origin).origin !== origin) {
        ctx.addIssue({
          code: 'custom',
          path: ['CORS_ORIGINS'],
          message: `not an origin (scheme://host[:port], no path or trailing slash): ${origin}`,
        });
      }
    }
    if (c.WEBHOOK_URLS) {
      need(!!c.WEBHOOK_SECRET, 'WEBHOOK_SECRET', 'required when WEBHOOK_URLS is set: deliveries are signed');
      for (const url of c.WEBHOOK_URLS.split(',')) {
        if (!URL.canParse(url.trim())) ctx.addIssue({ code: 'custom', path: ['WEBHOOK_URLS'], message: `not a URL: ${url}` });
      }
    }
    for (const url of listSetting(c.SAFETY_ESCALATION_WEBHOOK_URLS)) {
      if (!URL.canParse(url)) ctx.addIssue({ code: 'custom', path: ['SAFETY_ESCALATION_WEBHOOK_URLS'], message: `not a URL: ${url}` });
    }
    if (c.SAFETY_ESCALATION_WEBHOOK_URLS)
      need(!!c.WEBHOOK_SECRET, 'WEBHOOK_SECRET', 'required when SAFETY_ESCALATION_WEBHOOK_URLS is set: deliveries are signed');
    for (const pair of listSetting(c.HL7_ASSIGNING_AUTHORITIES)) {
      const [authority, system] = pair.split('=').map((v) => v.trim());
      if (!authority || !system || !URL.canParse(system)) {
        ctx.addIssue({ code: 'custom', path: ['HL7_ASSIGNING_AUTHORITIES'], message: `not AUTHORITY=system-uri: ${pair}` });
      }
    }
    if (!!c.HL7_OUT_HOST !== (c.HL7_OUT_PORT !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.HL7_OUT_HOST ? 'HL7_OUT_PORT' : 'HL7_OUT_HOST'],
        message: 'HL7_OUT_HOST and HL7_OUT_PORT are set together',
      });
    }
    if (c.SCREENING_SEVERITY_OVERRIDES) {
      try {
        JSON.parse(c.SCREENING_SEVERITY_OVERRIDES);
      } catch {
        ctx.addIssue({ code: 'custom', path: ['SCREENING_SEVERITY_OVERRIDES'], message: 'must be a JSON object' });
      }
    }
  });

export type Config = Readonly<z.infer<typeof ConfigSchema>>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment once; a bad value stops start-up with every problem named. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return Object.freeze(parsed.data);
}

/** The base URL under which this service's resources are addressed in Bundle fullUrls. */
export function publicBaseUrl(config: Config): string {
  return (config.PUBLIC_BASE_URL ?? `http://localhost:${config.PORT}`).replace(/\/+$/, '');
}

/** The FHIR base the worker syncs to: the configured EHR, else the embedded sandbox. */
export function ehrBaseUrl(config: Config): string {
  return (config.EHR_BASE_URL ?? `http://127.0.0.1:${config.EHR_SANDBOX_PORT}/fhir/R4`).replace(/\/+$/, '');
}

/** The clinic's time zone (CLINIC_TIME_ZONE), UTC when unset. */
export function clinicTimeZone(config: Config): string {
  return config.CLINIC_TIME_ZONE ?? 'UTC';
}

/** Where escalated safety alerts go: SAFETY_ESCALATION_WEBHOOK_URLS, else the webhooks. */
export function escalationWebhookUrls(config: Config): string[] {
  const own = listSetting(config.SAFETY_ESCALATION_WEBHOOK_URLS);
  return own.length > 0 ? own : webhookUrls(config);
}

/** The webhook subscribers, in configured order. */
export function webhookUrls(config: Config): string[] {
  return listSetting(config.WEBHOOK_URLS);
}

/** The database options every process opens with: PostgreSQL when configured, else the embedded PGlite. */
export function databaseOptions(config: Config): { url?: string; schema?: string; dataDir?: string } {
  return config.DATABASE_URL
    ? { url: config.DATABASE_URL, ...(config.DATABASE_SCHEMA ? { schema: config.DATABASE_SCHEMA } : {}) }
    : { dataDir: resolve(config.DATA_DIR, 'postgres') };
}

/** Whether an address names this machine only (127.0.0.0/8, ::1, `localhost`): AUTH_MODE=none is refused anywhere else. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  if (isIPv4(h)) return LOOPBACK.check(h, 'ipv4');
  if (isIPv6(h)) return LOOPBACK.check(h, 'ipv6');
  return false;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/**
 * Why this configuration must not serve the API, or undefined when it may: an open API
 * (AUTH_MODE=none) is for one machine, never for a network.
 */
export function openAccessRefusal(config: Config): string | undefined {
  if (config.AUTH_MODE !== 'none' || isLoopbackHost(config.HOST)) return undefined;
  return (
    `AUTH_MODE=none leaves the API open to anyone who can reach it, so it may listen only on a loopback address (127.0.0.1, ::1, localhost), not HOST=${config.HOST}. ` +
    'Set AUTH_MODE=jwt with AUTH_ISSUER, AUTH_AUDIENCE, AUTH_JWKS_URL and AUTH_TOKEN_URL (README, "Production settings"), or HOST=127.0.0.1.'
  );
}

/** The Express "trust proxy" value of TRUST_PROXY: false, a hop count, or the trusted addresses. */
export function trustProxy(config: Config): boolean | number | string[] {
  if (!config.TRUST_PROXY || /^false$/i.test(config.TRUST_PROXY)) return false;
  if (/^\d+$/.test(config.TRUST_PROXY)) return Number(config.TRUST_PROXY);
  return listSetting(config.TRUST_PROXY);
}

/** Splits a comma-separated setting into its non-empty items. */
export function listSetting(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

/** PID-3 assigning authority (CX.4.1) → identifier system, from HL7_ASSIGNING_AUTHORITIES. */
export function assigningAuthorities(config: Config): ReadonlyMap<string, string> {
  return new Map(
    listSetting(config.HL7_ASSIGNING_AUTHORITIES).map((pair) => {
      const at = pair.indexOf('=');
      return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()] as const;
    }),
  );
}

/** The MSH-4 sending facilities (HD.1) whose messages belong to this configuration's tenant (HL7_SENDING_FACILITIES). */
export function sendingFacilities(config: Config): ReadonlySet<string> {
  return new Set(listSetting(config.HL7_SENDING_FACILITIES));
}

/** The discharge dispositions that stop a course as `discharged` (DISCHARGE_STOP_CODES). */
export function dischargeStopCodes(config: Config): ReadonlySet<string> {
  return new Set(listSetting(config.DISCHARGE_STOP_CODES));
}

/** Where HL7 v2 results and notes go (HL7_OUT_HOST / HL7_OUT_PORT), or undefined when this tenant sends none. */
export function hl7OutDestination(config: Config): { host: string; port: number } | undefined {
  return config.HL7_OUT_HOST && config.HL7_OUT_PORT ? { host: config.HL7_OUT_HOST, port: config.HL7_OUT_PORT } : undefined;
}
