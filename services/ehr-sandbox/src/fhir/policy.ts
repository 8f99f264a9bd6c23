/**
 * What the sandbox accepts, as strict as the real servers the adapter meets. The default
 * enforces Medplum server's transaction limits (with its messages), R4's search-parameter
 * registry, 404 for a PUT to a missing id and opaque UUID version ids; the other profiles
 * stand for EHRs that take no transactions or only some resource types.
 */

export const SANDBOX_PROFILES = ['default', 'no-transactions', 'limited-types'] as const;
export type SandboxProfile = (typeof SANDBOX_PROFILES)[number];

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

export interface SandboxPolicy {
  readonly profile: SandboxProfile;
  readonly maxTransactionEntries: number;
  readonly maxTransactionUpdates: number;
  readonly transactions: boolean;
  readonly nonAtomicTransactions: boolean;
  readonly updateCreate: boolean;
  /** Undefined: every R4 type. */
  readonly resourceTypes?: ReadonlySet<string>;
  accepts(type: string): boolean;
}

export function sandboxPolicy(options: SandboxPolicyOptions = {}): SandboxPolicy {
  const profile = options.profile ?? 'default';
  const types = options.resourceTypes ?? (profile === 'limited-types' ? LIMITED_TYPES : undefined);
  const resourceTypes = types ? new Set(types) : undefined;
  return {
    profile,
    maxTransactionEntries: options.maxTransactionEntries ?? 8,
    maxTransactionUpdates: options.maxTransactionUpdates ?? 50,
    transactions: options.transactions ?? profile !== 'no-transactions',
    nonAtomicTransactions: options.nonAtomicTransactions ?? false,
    updateCreate: options.updateCreate ?? false,
    ...(resourceTypes ? { resourceTypes } : {}),
    accepts: (type) => !resourceTypes || resourceTypes.has(type),
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
  const types = env['SANDBOX_RESOURCE_TYPES']?.split(',').map((t) => t.trim()).filter(Boolean);
  const maxEntries = int('SANDBOX_MAX_TRANSACTION_ENTRIES');
  const maxUpdates = int('SANDBOX_MAX_TRANSACTION_UPDATES');
  return {
    profile: profile as SandboxProfile,
    ...(maxEntries ? { maxTransactionEntries: maxEntries } : {}),
    ...(maxUpdates ? { maxTransactionUpdates: maxUpdates } : {}),
    ...(types && types.length > 0 ? { resourceTypes: types } : {}),
    ...(env['SANDBOX_NON_ATOMIC_TRANSACTIONS'] === 'true' ? { nonAtomicTransactions: true } : {}),
  };
}
