import type { TypeInteraction } from './interactions';

/**
 * What the sandbox accepts, as strict as the real servers the adapter meets. The default
 * enforces Medplum server's transaction limits (with its messages), R4's search-parameter
 * registry, 404 for a PUT to a missing id and opaque UUID version ids; the other profiles
 * stand for EHRs that take no transactions, only some resource types, or (`vitals-notes`)
 * only vital-sign/survey Observations and clinical notes, as the EHRs most hospitals run.
 */

export const SANDBOX_PROFILES = ['default', 'no-transactions', 'limited-types', 'vitals-notes'] as const;
export type SandboxProfile = (typeof SANDBOX_PROFILES)[number];

/**
 * How claimed profiles (`meta.profile`) are validated: `medplum-5.0.10` as that server does,
 * its false positives included (see profile-validation.ts); `off`: claims are not checked.
 */
export const PROFILE_VALIDATION_MODES = ['medplum-5.0.10', 'off'] as const;
export type ProfileValidationMode = (typeof PROFILE_VALIDATION_MODES)[number];

/** What a profile allows on one resource type. */
export interface TypeRule {
  readonly interactions: ReadonlySet<TypeInteraction>;
  /** Search parameters taken (result parameters like `_count` always are); undefined: R4's registry. */
  readonly searchParams?: ReadonlySet<string>;
}

export interface SandboxPolicyOptions {
  /** Starting point for the other options; default `default`. */
  readonly profile?: SandboxProfile;
  /** A transaction with any conditional entry and more entries than this is refused (400); default 8. */
  readonly maxTransactionEntries?: number;
  /** A transaction with more updates (PUT) than this is refused (400); default 50. */
  readonly maxTransactionUpdates?: number;
  /** Whether transaction and batch Bundles are taken; false in `no-transactions`. */
  readonly transactions?: boolean;
  /**
   * Run a transaction as a non-atomic batch and answer 200 with per-entry statuses, as a
   * Medplum server without its `transaction-bundles` feature does; default false.
   */
  readonly nonAtomicTransactions?: boolean;
  /** The resource types taken (others are 404); default all, {@link LIMITED_TYPES} in `limited-types`. */
  readonly resourceTypes?: readonly string[];
  /** A PUT to a missing id creates it, as HAPI allows; default false (404, as Medplum). */
  readonly updateCreate?: boolean;
  /** How claimed profiles are validated; default `medplum-5.0.10`. */
  readonly profileValidation?: ProfileValidationMode;
  /**
   * OAuth: the scopes every token is granted whatever the client asks, as an EHR whose admin
   * registered the client with fewer scopes does (RFC 6749 §3.3: the response names them).
   */
  readonly grantScopes?: string;
  /**
   * Milliseconds each FHIR interaction (the CapabilityStatement aside) waits, holding its
   * identity locks, after its work: a real EHR's time is mostly its database and network,
   * which requests of different clients wait out side by side, while this sandbox's is all
   * CPU in one thread. With it a benchmark can give the EHR capacity to spare; default 0.
   */
  readonly latencyMs?: number;
}

/**
 * The `limited-types` profile: an EHR that takes the care plan, its goals and tasks, the
 * administrations, the adverse event and the alert, but not observations, questionnaire
 * responses, consents, procedures, encounters or provenance.
 */
export const LIMITED_TYPES: readonly string[] = [
  'Patient',
  'CarePlan',
  'Goal',
  'Task',
  'MedicationAdministration',
  'AdverseEvent',
  'Flag',
  'DetectedIssue',
  'Communication',
];

/**
 * The `vitals-notes` profile: the public write APIs of the EHRs most hospitals run (US Core
 * "Writing Vital Signs" and "Writing Clinical Notes"). Patients are read and searched, never
 * written; Observations of the vital-signs and survey categories and DocumentReferences are
 * created (server-assigned ids); a note is superseded by updating the old one's `docStatus` /
 * `status`. No history, no delete, no conditional interactions, no Bundles.
 * @see https://build.fhir.org/ig/HL7/US-Core/writing-vital-signs.html
 * @see https://build.fhir.org/ig/HL7/US-Core/writing-clinical-notes.html
 */
export const VITALS_NOTES_TYPES: ReadonlyMap<string, TypeRule> = new Map<string, TypeRule>([
  ['Patient', { interactions: new Set(['read', 'search-type']), searchParams: new Set(['_id', 'identifier']) }],
  [
    'Observation',
    {
      interactions: new Set(['create', 'read', 'search-type']),
      searchParams: new Set(['_id', 'identifier', 'patient', 'subject', 'category', 'code', 'date']),
    },
  ],
  [
    'DocumentReference',
    {
      interactions: new Set(['create', 'read', 'search-type', 'update']),
      searchParams: new Set(['_id', 'identifier', 'patient', 'subject', 'category', 'type', 'date', 'status']),
    },
  ],
]);

/** Observation categories `vitals-notes` takes (http://terminology.hl7.org/CodeSystem/observation-category). */
export const VITALS_NOTES_OBSERVATION_CATEGORIES: ReadonlySet<string> = new Set(['vital-signs', 'survey']);

export interface SandboxPolicy {
  readonly profile: SandboxProfile;
  readonly maxTransactionEntries: number;
  readonly maxTransactionUpdates: number;
  readonly transactions: boolean;
  readonly nonAtomicTransactions: boolean;
  readonly updateCreate: boolean;
  /** Undefined: every R4 type. */
  readonly resourceTypes?: ReadonlySet<string>;
  /** Per-type interactions and search parameters; undefined: every interaction of an accepted type. */
  readonly typeRules?: ReadonlyMap<string, TypeRule>;
  /** False: `If-None-Exist` is ignored (the resource is created anyway), as servers without it do. */
  readonly conditionalCreate: boolean;
  /** False: conditional update, patch and delete (`PUT Type?criteria`) are refused. */
  readonly conditionalWrites: boolean;
  /** Observation categories taken; undefined: any. */
  readonly observationCategories?: ReadonlySet<string>;
  readonly profileValidation: ProfileValidationMode;
  readonly grantScopes?: string;
  readonly latencyMs: number;
  accepts(type: string): boolean;
  /** Whether `interaction` on `type` is supported at all (the token's scopes aside). */
  allows(type: string, interaction: TypeInteraction): boolean;
}

export function sandboxPolicy(options: SandboxPolicyOptions = {}): SandboxPolicy {
  const profile = options.profile ?? 'default';
  const vitalsNotes = profile === 'vitals-notes';
  const typeRules = vitalsNotes ? VITALS_NOTES_TYPES : undefined;
  const types = options.resourceTypes ?? (profile === 'limited-types' ? LIMITED_TYPES : typeRules ? [...typeRules.keys()] : undefined);
  const resourceTypes = types ? new Set(types) : undefined;
  const accepts = (type: string): boolean => !resourceTypes || resourceTypes.has(type);
  return {
    profile,
    maxTransactionEntries: options.maxTransactionEntries ?? 8,
    maxTransactionUpdates: options.maxTransactionUpdates ?? 50,
    transactions: options.transactions ?? (profile !== 'no-transactions' && !vitalsNotes),
    nonAtomicTransactions: options.nonAtomicTransactions ?? false,
    updateCreate: vitalsNotes ? false : (options.updateCreate ?? false),
    conditionalCreate: !vitalsNotes,
    conditionalWrites: !vitalsNotes,
    profileValidation: options.profileValidation ?? 'medplum-5.0.10',
    ...(resourceTypes ? { resourceTypes } : {}),
    ...(typeRules ? { typeRules } : {}),
    ...(vitalsNotes ? { observationCategories: VITALS_NOTES_OBSERVATION_CATEGORIES } : {}),
    ...(options.grantScopes?.trim() ? { grantScopes: options.grantScopes.trim() } : {}),
    latencyMs: options.latencyMs ?? 0,
    accepts,
    allows: (type, interaction) => {
      if (!accepts(type)) return false;
      const rule = typeRules?.get(type);
      return !typeRules || Boolean(rule?.interactions.has(interaction));
    },
  };
}

/** The policy from `SANDBOX_*` environment variables (main.ts and tools). */
export function sandboxPolicyFromEnv(env: Readonly<Record<string, string | undefined>>): SandboxPolicyOptions {
  const profile = env['SANDBOX_PROFILE']?.trim() || 'default';
  if (!(SANDBOX_PROFILES as readonly string[]).includes(profile)) {
    throw new Error(`SANDBOX_PROFILE must be one of ${SANDBOX_PROFILES.join(', ')}, got ${profile}`);
  }
  const int = (name: string): number | undefined => {
    const raw = env[name]?.trim();
    if (!raw) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${raw}`);
    return n;
  };
  const validation = env['SANDBOX_PROFILE_VALIDATION']?.trim() || undefined;
  if (validation && !(PROFILE_VALIDATION_MODES as readonly string[]).includes(validation)) {
    throw new Error(`SANDBOX_PROFILE_VALIDATION must be one of ${PROFILE_VALIDATION_MODES.join(', ')}, got ${validation}`);
  }
  const grantScopes = env['SANDBOX_GRANT_SCOPES']?.trim();
  const types = env['SANDBOX_RESOURCE_TYPES']
    ?.split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const maxEntries = int('SANDBOX_MAX_TRANSACTION_ENTRIES');
  const maxUpdates = int('SANDBOX_MAX_TRANSACTION_UPDATES');
  const latencyMs = int('SANDBOX_LATENCY_MS');
  return {
    profile: profile as SandboxProfile,
    ...(maxEntries ? { maxTransactionEntries: maxEntries } : {}),
    ...(maxUpdates ? { maxTransactionUpdates: maxUpdates } : {}),
    ...(types && types.length > 0 ? { resourceTypes: types } : {}),
    ...(env['SANDBOX_NON_ATOMIC_TRANSACTIONS'] === 'true' ? { nonAtomicTransactions: true } : {}),
    ...(validation ? { profileValidation: validation as ProfileValidationMode } : {}),
    ...(grantScopes ? { grantScopes } : {}),
    ...(latencyMs ? { latencyMs } : {}),
  };
}
