import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';

/**
 * What an EHR says it accepts, read from its CapabilityStatement (`GET [base]/metadata`).
 * Only what the write planner needs: whole-Bundle interactions, and per resource type the
 * write interactions and search parameters.
 * @see http://hl7.org/fhir/R4/capabilitystatement.html
 */
export interface EhrCapabilities {
  /** The server's `software.name` and version, for the preflight report. */
  readonly software?: string;
  readonly fhirVersion?: string;
  /** `rest.interaction` has `transaction`. */
  readonly transaction: boolean;
  /** `rest.interaction` has `batch`. */
  readonly batch: boolean;
  readonly types: ReadonlyMap<string, TypeCapabilities>;
}

export interface TypeCapabilities {
  readonly create: boolean;
  readonly update: boolean;
  /** `conditionalCreate` true: `If-None-Exist` is honoured. */
  readonly conditionalCreate: boolean;
  readonly conditionalUpdate: boolean;
  /** `updateCreate`: a PUT to an id the server lacks creates it. */
  readonly updateCreate: boolean;
  readonly searchParams: ReadonlySet<string>;
}

/**
 * Reads a CapabilityStatement. The server-mode `rest` entry counts; its `searchParam`
 * (parameters common to all types, where servers list `_tag`) is added to each type's own.
 * An absent `conditionalCreate` is taken as false: R4 gives it no default, and trusting a
 * server that did not say so would make a retry duplicate instead of finding the first write.
 */
export function readCapabilities(statement: CapabilityStatement): EhrCapabilities {
  const rest = statement.rest?.find((r) => r.mode === 'server') ?? statement.rest?.[0];
  const system = new Set((rest?.interaction ?? []).map((i) => i.code));
  const common = (rest?.searchParam ?? []).map((p) => p.name).filter((n): n is string => Boolean(n));
  const types = new Map<string, TypeCapabilities>();
  for (const resource of rest?.resource ?? []) {
    if (resource.type) types.set(resource.type, typeCapabilities(resource, common));
  }
  const software = [statement.software?.name, statement.software?.version].filter(Boolean).join(' ');
  return {
    ...(software ? { software } : {}),
    ...(statement.fhirVersion ? { fhirVersion: statement.fhirVersion } : {}),
    transaction: system.has('transaction'),
    batch: system.has('batch'),
    types,
  };
}

function typeCapabilities(resource: CapabilityStatementRestResource, common: readonly string[]): TypeCapabilities {
  const interactions = new Set((resource.interaction ?? []).map((i) => i.code));
  const searchParams = new Set([...common, ...(resource.searchParam ?? []).map((p) => p.name).filter((n): n is string => Boolean(n))]);
  return {
    create: interactions.has('create'),
    update: interactions.has('update'),
    conditionalCreate: resource.conditionalCreate === true,
    conditionalUpdate: resource.conditionalUpdate === true,
    updateCreate: resource.updateCreate === true,
    searchParams,
  };
}
