import type { Identifier } from '@medplum/fhirtypes';
import { parse as uuidParse, v5 as uuidv5 } from 'uuid';

/** Base of every canonical URL this adapter publishes (CodeSystem, Questionnaire, PlanDefinition). */
export const KAP_CANONICAL = 'https://kap-adapter.org/fhir';

/** The project's own CodeSystem, for concepts with no standard code (docs/domain.md#7-codes). */
export const KAP_CODE_SYSTEM_URL = `${KAP_CANONICAL}/CodeSystem/kap`;

/**
 * Identifier system of every resource the adapter builds. The EHR sync does a conditional
 * create on it (`If-None-Exist: identifier=<system>|<value>`), so a retry finds the first write.
 * @see https://hl7.org/fhir/R4/http.html#ccreate
 */
export const RESOURCE_IDENTIFIER_SYSTEM = `${KAP_CANONICAL}/sid/resource`;

/**
 * The UUID v5 namespace of resource ids: itself derived from the canonical, so it is stable
 * across releases without a magic constant, and differs from any other product's namespace.
 */
const RESOURCE_ID_NAMESPACE = uuidv5(KAP_CANONICAL, uuidv5.URL);

/**
 * The namespace as bytes, and keys encoded as UTF-8 bytes once: given strings, uuid parses
 * the namespace (twice) and re-encodes the key through encodeURIComponent on every call, a
 * few percent of a screening's CPU. The ids are the same (the tests pin two).
 */
const RESOURCE_ID_NAMESPACE_BYTES = uuidParse(RESOURCE_ID_NAMESPACE);
const utf8 = new TextEncoder();

/**
 * The id of the resource that represents `businessKey` (for example
 * `screening/<screeningId>/observation/blood-pressure`). Deterministic: the same key always
 * gives the same id, so rebuilding or retrying never creates a second resource.
 * @see https://hl7.org/fhir/R4/resource.html#id
 */
export function resourceId(businessKey: string): string {
  if (!businessKey) throw new Error('resourceId needs a non-empty business key');
  return uuidv5(utf8.encode(businessKey), RESOURCE_ID_NAMESPACE_BYTES);
}

/**
 * The business identifier of the resource for `businessKey`; its value is `resourceId(key)`.
 * @see https://hl7.org/fhir/R4/datatypes.html#Identifier
 */
export function resourceIdentifier(businessKey: string): Identifier {
  return { system: RESOURCE_IDENTIFIER_SYSTEM, value: resourceId(businessKey) };
}
