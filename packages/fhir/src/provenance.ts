import type { Provenance, ProvenanceAgent, Reference } from '@medplum/fhirtypes';
import { DATA_OPERATION, HL7 } from './codes';
import { concept } from './datatypes';
import { RESOURCE_IDENTIFIER_SYSTEM, resourceId } from './resource-ids';
import { validateResource } from './validate';

/**
 * Provenance of what the adapter writes (docs/domain.md#8-standards).
 * @see https://hl7.org/fhir/R4/provenance.html
 */

/**
 * Provenance has no `identifier` element, so its identity for the EHR sync is a `meta.tag`
 * in this system (`If-None-Exist: _tag=<system>|<code>`); the same system as identifiers,
 * with the same value, so one key names a resource however it is found.
 * @see https://hl7.org/fhir/R4/search.html#tag
 */
export const PROVENANCE_TAG_SYSTEM = RESOURCE_IDENTIFIER_SYSTEM;

/** `agent.who.display` of the adapter itself. */
export const ADAPTER_DISPLAY = 'KAP FHIR adapter';

export interface ProvenanceInput {
  key: string;
  targets: Reference[];
  recorded: string;
  activity: 'CREATE' | 'UPDATE';
  reason?: string;
  /** Who authored the content, e.g. the clinician named in the request. */
  authorDisplay?: string;
}

/**
 * A Provenance over `targets`: the adapter as the `assembler` (it put the resources
 * together from a request; it is no registered Device, so `who` is display-only), the
 * author when known, the v3 DataOperation activity, the reason as text.
 */
export function buildProvenance(input: ProvenanceInput): Provenance {
  if (input.targets.length === 0) throw new Error('A Provenance needs at least one target');
  const id = resourceId(input.key);
  const agent: ProvenanceAgent[] = [
    { type: concept([HL7.assembler]), who: { display: ADAPTER_DISPLAY } },
    ...(input.authorDisplay ? [{ type: concept([HL7.author]), who: { display: input.authorDisplay } }] : []),
  ];
  const provenance: Provenance = {
    resourceType: 'Provenance',
    id,
    meta: { tag: [{ system: PROVENANCE_TAG_SYSTEM, code: id }] },
    target: [...input.targets],
    recorded: input.recorded,
    ...(input.reason ? { reason: [{ text: input.reason }] } : {}),
    activity: concept([DATA_OPERATION[input.activity]]),
    agent,
  };
  return validateResource(provenance);
}
