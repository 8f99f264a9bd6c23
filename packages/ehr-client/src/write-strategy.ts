import type { Resource } from '@medplum/fhirtypes';
import type { EhrCapabilities } from './capabilities';

/**
 * How writes reach one EHR: decided from its CapabilityStatement and the settings that a
 * CapabilityStatement cannot express (size limits, the types a hospital wants sent).
 */

export const WRITE_MODES = ['auto', 'transaction', 'batch', 'single'] as const;
export type WriteModeSetting = (typeof WRITE_MODES)[number];
export type WriteMode = Exclude<WriteModeSetting, 'auto'>;

/** The `EHR_*` settings of one EHR connection (any `@kap/config` Config fits). */
export interface EhrWriteSettingsInput {
  readonly EHR_MAX_TRANSACTION_ENTRIES?: number;
  readonly EHR_WRITE_MODE?: WriteModeSetting;
  readonly EHR_RESOURCE_TYPES?: string | undefined;
  readonly EHR_CAPABILITIES_REFRESH_MS?: number;
  readonly EHR_UNCLAIMED_PROFILES?: string | undefined;
  readonly EHR_OBSERVATION_CATEGORIES?: string | undefined;
}

export interface EhrWriteSettings {
  readonly maxTransactionEntries: number;
  readonly writeMode: WriteModeSetting;
  /** Undefined: every type the EHR's CapabilityStatement lists. */
  readonly resourceTypes?: readonly string[];
  readonly capabilitiesRefreshMs: number;
  /** Profile claims (`meta.profile`) left out of what is sent: ones this EHR validates wrongly. */
  readonly unclaimedProfiles: readonly string[];
  /** Undefined: every Observation category; else the `observation-category` codes the EHR takes. */
  readonly observationCategories?: readonly string[];
}

/** Defaults safe against the strictest server known (Medplum: 8 entries with conditional writes). */
export const DEFAULT_WRITE_SETTINGS: EhrWriteSettings = {
  maxTransactionEntries: 8,
  writeMode: 'auto',
  capabilitiesRefreshMs: 600_000,
  unclaimedProfiles: [],
};

export function writeSettingsFrom(input: EhrWriteSettingsInput): EhrWriteSettings {
  const types = (input.EHR_RESOURCE_TYPES ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const categories = (input.EHR_OBSERVATION_CATEGORIES ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  return {
    maxTransactionEntries: input.EHR_MAX_TRANSACTION_ENTRIES ?? DEFAULT_WRITE_SETTINGS.maxTransactionEntries,
    writeMode: input.EHR_WRITE_MODE ?? DEFAULT_WRITE_SETTINGS.writeMode,
    capabilitiesRefreshMs: input.EHR_CAPABILITIES_REFRESH_MS ?? DEFAULT_WRITE_SETTINGS.capabilitiesRefreshMs,
    unclaimedProfiles: (input.EHR_UNCLAIMED_PROFILES ?? '')
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean),
    ...(types.length > 0 ? { resourceTypes: types } : {}),
    ...(categories.length > 0 ? { observationCategories: categories } : {}),
  };
}

/**
 * How a resource is found again on the EHR, so that a retry never duplicates it:
 * `identifier` or `_tag` searches (also used in `If-None-Exist`), or `none`, when the EHR
 * has neither for the type: then it is a single unconditional create whose returned id is
 * recorded before anything else happens.
 */
export type IdentitySearch = 'identifier' | 'tag' | 'none';

export interface TypePlan {
  readonly type: string;
  /** Why it stays in the adapter; absent when it is sent. */
  readonly keptBack?: string;
  readonly identity: IdentitySearch;
  /** `_tag` search is there too: the fallback for a resource without an identifier (Provenance). */
  readonly tagSearch: boolean;
  /** `If-None-Exist` is honoured for the type, on the identity search. */
  readonly conditionalCreate: boolean;
  /** The EHR takes updates of the type: a later revision (a CarePlan's, a Task's) can follow. */
  readonly update: boolean;
}

export interface WriteStrategy {
  readonly mode: WriteMode;
  /** Most entries per Bundle (1 in `single` mode). */
  readonly maxEntries: number;
  /** Things hospital IT should know: a setting that overrides what the EHR says, for one. */
  readonly warnings: readonly string[];
  /**
   * `create`: the Patient is written (a conditional create on the hospital's identifier).
   * `match`: the EHR may not create one (hospital IT left Patient out, or the EHR lacks
   * `create` for it): the hospital's Patient is found by identifier and referenced by its
   * EHR id; until it is there, the patient's sync waits (`waiting-for-patient`).
   */
  readonly patients: 'create' | 'match';
  forType(type: string): TypePlan;
  /** Why this resource stays in the adapter (its type, or an Observation category the EHR does not take); absent when it is sent. */
  keptBackResource(resource: Resource): string | undefined;
}

/** http://hl7.org/fhir/R4/valueset-observation-category.html (the same system @kap/fhir codes with). */
const CATEGORY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/observation-category';

/** The `observation-category` codes of an Observation. */
export function observationCategories(resource: Resource): string[] {
  if (resource.resourceType !== 'Observation') return [];
  return (resource.category ?? [])
    .flatMap((c) => c.coding ?? [])
    .filter((c) => c.system === CATEGORY_SYSTEM && c.code)
    .map((c) => c.code as string);
}

/** Decides the write strategy; pure, so `ehr:check` prints exactly what the worker will do. */
export function decideWriteStrategy(capabilities: EhrCapabilities, settings: EhrWriteSettings): WriteStrategy {
  const warnings: string[] = [];
  let mode: WriteMode;
  if (settings.writeMode === 'auto') {
    mode = capabilities.transaction ? 'transaction' : capabilities.batch ? 'batch' : 'single';
  } else {
    mode = settings.writeMode;
    if ((mode === 'transaction' && !capabilities.transaction) || (mode === 'batch' && !capabilities.batch)) {
      warnings.push(`EHR_WRITE_MODE=${mode}, but the EHR's CapabilityStatement does not list the ${mode} interaction`);
    }
  }
  const wanted = settings.resourceTypes ? new Set(settings.resourceTypes) : undefined;
  const cache = new Map<string, TypePlan>();
  const forType = (type: string): TypePlan => {
    const hit = cache.get(type);
    if (hit) return hit;
    const caps = capabilities.types.get(type);
    const identity: IdentitySearch = caps?.searchParams.has('identifier') ? 'identifier' : caps?.searchParams.has('_tag') ? 'tag' : 'none';
    const keptBack =
      wanted && !wanted.has(type)
        ? 'not in EHR_RESOURCE_TYPES'
        : !caps
          ? "not in the EHR's CapabilityStatement"
          : !caps.create && !caps.update
            ? 'the EHR allows neither create nor update for it'
            : undefined;
    const plan: TypePlan = {
      type,
      identity,
      tagSearch: Boolean(caps?.searchParams.has('_tag')),
      conditionalCreate: identity !== 'none' && Boolean(caps?.conditionalCreate),
      update: Boolean(caps?.update),
      ...(keptBack ? { keptBack } : {}),
    };
    cache.set(type, plan);
    return plan;
  };
  const categories = settings.observationCategories ? new Set(settings.observationCategories) : undefined;
  const keptBackResource = (resource: Resource): string | undefined => {
    const byType = forType(resource.resourceType).keptBack;
    if (byType || !categories || resource.resourceType !== 'Observation') return byType;
    const own = observationCategories(resource);
    return own.some((c) => categories.has(c)) ? undefined : `category ${own.join(', ') || '(none)'} not in EHR_OBSERVATION_CATEGORIES`;
  };
  const patientCaps = capabilities.types.get('Patient');
  const patients = forType('Patient').keptBack || !patientCaps?.create ? 'match' : 'create';
  if (patients === 'match' && patientCaps && !patientCaps.searchParams.has('identifier')) {
    warnings.push("the EHR lists no Patient identifier search: the hospital's Patient cannot be matched");
  }
  return { mode, maxEntries: mode === 'single' ? 1 : settings.maxTransactionEntries, warnings, patients, forType, keptBackResource };
}
