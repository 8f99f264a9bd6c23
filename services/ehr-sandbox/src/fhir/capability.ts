import { globalSchema, isResourceType } from '@medplum/core';
import type {
  CapabilityStatement,
  CapabilityStatementRestResource,
  CapabilityStatementRestSecurity,
  ResourceType,
} from '@medplum/fhirtypes';
import type { TypeInteraction } from './interactions';
import type { SandboxPolicy } from './policy';

/** Abstract types that isResourceType accepts but that cannot be instantiated. */
const ABSTRACT_TYPES = new Set(['Resource', 'DomainResource']);

/** Options describing what the CapabilityStatement should advertise. */
export interface CapabilityOptions {
  readonly baseUrl: string;
  /** Token endpoint, when OAuth is on; advertised through the SMART security extension. */
  readonly tokenUrl?: string;
  readonly bearerRequired: boolean;
  /** What this sandbox accepts; the statement says exactly that. */
  readonly policy: SandboxPolicy;
}

/**
 * The server's CapabilityStatement: every R4 resource type with the interactions the sandbox
 * implements, and the standard search parameters it evaluates.
 * @see http://hl7.org/fhir/R4/http.html#capabilities
 * @see http://hl7.org/fhir/R4/capabilitystatement.html
 */
export function buildCapabilityStatement(options: CapabilityOptions): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: 'KAP EHR sandbox' },
    implementation: { description: 'Embedded FHIR R4 server for tests and demos', url: options.baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'application/json'],
    rest: [
      {
        mode: 'server',
        ...(options.bearerRequired ? { security: security(options.tokenUrl) } : {}),
        documentation: documentation(options.policy),
        ...(options.policy.transactions ? { interaction: [{ code: 'transaction' }, { code: 'batch' }] } : {}),
        resource: resourceTypes()
          .filter((t) => options.policy.accepts(t))
          .map((t) => resourceCapability(t, options.policy)),
      },
    ],
  };
}

function resourceTypes(): ResourceType[] {
  return Object.keys(globalSchema.types)
    .filter((t): t is ResourceType => !ABSTRACT_TYPES.has(t) && Boolean(isResourceType(t)))
    .sort();
}

/** The limits a CapabilityStatement has no element for, in words for people. */
function documentation(policy: SandboxPolicy): string {
  if (policy.profile === 'vitals-notes') {
    return (
      `Profile vitals-notes. Patient: read and search by identifier or _id only. Observation: create, read, search; ` +
      `category ${[...(policy.observationCategories ?? [])].join(' or ')} only. DocumentReference: create, read, search, update ` +
      `(a new note version supersedes the last through relatesTo; the client updates the old one's status and docStatus). ` +
      `No transaction or batch, no conditional create (If-None-Exist is ignored), server-assigned ids only.`
    );
  }
  return policy.transactions
    ? `Profile ${policy.profile}. Transactions with a conditional entry take at most ${policy.maxTransactionEntries} entries; ` +
        `at most ${policy.maxTransactionUpdates} updates per transaction` +
        (policy.nonAtomicTransactions ? '; transactions run as non-atomic batches.' : '.')
    : `Profile ${policy.profile}. No transaction or batch: one resource per request.`;
}

const ALL_INTERACTIONS: readonly TypeInteraction[] = [
  'read',
  'vread',
  'update',
  'patch',
  'delete',
  'history-instance',
  'create',
  'search-type',
];

function resourceCapability(type: ResourceType, policy: SandboxPolicy): CapabilityStatementRestResource {
  const params = globalSchema.types[type]?.searchParams ?? {};
  const rule = policy.typeRules?.get(type);
  const interactions = ALL_INTERACTIONS.filter((code) => !rule || rule.interactions.has(code));
  return {
    type,
    interaction: interactions.map((code) => ({ code: code as 'read' })),
    versioning: 'versioned-update',
    readHistory: interactions.includes('vread'),
    updateCreate: policy.updateCreate,
    conditionalCreate: policy.conditionalCreate,
    conditionalUpdate: policy.conditionalWrites,
    conditionalDelete: policy.conditionalWrites ? 'single' : 'not-supported',
    searchParam: Object.entries(params)
      .filter(([name]) => !rule?.searchParams || rule.searchParams.has(name))
      .map(([name, p]) => ({
        name,
        type: p.type,
        ...(p.url ? { definition: p.url } : {}),
      })),
  };
}

function security(tokenUrl: string | undefined): CapabilityStatementRestSecurity {
  return {
    service: [
      {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }],
      },
    ],
    ...(tokenUrl
      ? {
          extension: [
            {
              url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
              extension: [{ url: 'token', valueUri: tokenUrl }],
            },
          ],
        }
      : {}),
  };
}
