import { ehrBaseUrl, type Config } from '@kap/config';
import {
  createEhrClient,
  decideWriteStrategy,
  describeShortfall,
  ehrAuthFromSettings,
  scopeNeeds,
  scopeShortfall,
  writeSettingsFrom,
  type EhrCapabilities,
  type EhrClient,
  type ScopeNeeds,
  type TokenGrant,
} from '@kap/ehr-client';

/**
 * The one way the worker, `ehr:check` and `ehr:subscribe` connect to a tenant's EHR: its
 * `EHR_*` settings, and a token that asks for exactly what the adapter does there.
 */

/** The resource types the adapter writes, in the order a course produces them. */
export const PRODUCED_TYPES = [
  'Patient',
  'QuestionnaireResponse',
  'Observation',
  'Consent',
  'Provenance',
  'CarePlan',
  'Goal',
  'Task',
  'Encounter',
  'Procedure',
  'MedicationAdministration',
  'AdverseEvent',
  'DetectedIssue',
  'Flag',
  'Communication',
] as const;

/** What the hospital's notifications make the adapter read: the Patient and Encounter they name. */
const READ_FOR_NOTIFICATIONS = ['Patient', 'Encounter'];

/**
 * Types whose resources claim profiles (`meta.profile`: the vital-sign Observations). A
 * server that validates a claim reads the profile's StructureDefinition as the caller:
 * Medplum answers 403 to a claim its client may not read, so the token asks for it.
 */
const CLAIMS_PROFILES = ['Observation'];

export interface ScopeNeedsOptions {
  /** Types the command creates and reads besides the sync's (`ehr:subscribe`: Subscription). */
  readonly manages?: readonly string[];
}

/**
 * Per type, what the adapter does on this EHR: the sync's writes as the write strategy
 * plans them, the reads its notifications cause, and AuditEvent with `EHR_SYNC_AUDIT`.
 * Without a CapabilityStatement (one the server serves only with a token) every type the
 * adapter may send is asked for in full: the strategy cannot be known before the token.
 */
export function adapterScopeNeeds(config: Config, capabilities: EhrCapabilities | undefined, options: ScopeNeedsOptions = {}): ScopeNeeds {
  const settings = writeSettingsFrom(config);
  const sends: string[] = [...PRODUCED_TYPES, ...(config.EHR_SYNC_AUDIT ? ['AuditEvent'] : [])].filter(
    (type) => !settings.resourceTypes || settings.resourceTypes.includes(type),
  );
  const strategy = capabilities ? decideWriteStrategy(capabilities, settings) : everythingWritable();
  const claimsProfiles = sends.some((type) => CLAIMS_PROFILES.includes(type) && !strategy.forType(type).keptBack);
  const reads = [...READ_FOR_NOTIFICATIONS, ...(claimsProfiles ? ['StructureDefinition'] : [])];
  return scopeNeeds(strategy, { sends, reads, manages: options.manages ?? [] });
}

/** A strategy that sends every type with create, update and identifier search: for asking before knowing. */
function everythingWritable(): ReturnType<typeof decideWriteStrategy> {
  return {
    mode: 'single',
    maxEntries: 1,
    warnings: [],
    forType: (type) => ({ type, identity: 'identifier', tagSearch: true, conditionalCreate: true, update: true }),
  };
}

export interface EhrConnectionOptions extends ScopeNeedsOptions {
  readonly userAgent?: string;
  readonly fetch?: typeof fetch;
  /** Told when a token grants less than the adapter needs, one line per type. */
  readonly onShortfall?: (lines: readonly string[], grant: TokenGrant) => void;
}

/** The EHR client of one tenant's configuration. */
export function connectEhr(config: Config, options: EhrConnectionOptions = {}): EhrClient {
  let capabilitiesSeen: EhrCapabilities | undefined;
  const needs = (capabilities: EhrCapabilities | undefined): ScopeNeeds => {
    capabilitiesSeen = capabilities;
    return adapterScopeNeeds(config, capabilities, options);
  };
  return createEhrClient({
    baseUrl: ehrBaseUrl(config),
    auth: ehrAuthFromSettings(config),
    timeoutMs: config.EHR_TIMEOUT_MS,
    scopeNeeds: needs,
    ...(options.userAgent ? { userAgent: options.userAgent } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    onGrant: (grant) => {
      const lines = grantShortfall(adapterScopeNeeds(config, capabilitiesSeen, options), grant);
      if (lines.length > 0) options.onShortfall?.(lines, grant);
    },
  });
}

/** What a grant leaves out of the needs, one line per type; empty when it covers them. */
export function grantShortfall(needs: ScopeNeeds, grant: TokenGrant): string[] {
  // A server that names no scope at all grants its default; nothing can be said of it.
  if (grant.granted === undefined) return [];
  return scopeShortfall(needs, grant.granted).map(describeShortfall);
}
