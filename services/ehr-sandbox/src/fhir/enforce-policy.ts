import type { Observation, Resource } from '@medplum/fhirtypes';
import type { RequestedInteraction } from './interactions';
import { errorOutcome, HttpError } from './outcomes';
import type { SandboxPolicy } from './policy';

const OBSERVATION_CATEGORY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/observation-category';

/** Search result parameters: they shape the answer and filter nothing, so every profile takes them. */
const RESULT_PARAMETERS = new Set([
  '_count',
  '_offset',
  '_sort',
  '_total',
  '_summary',
  '_elements',
  '_include',
  '_revinclude',
  '_format',
  '_pretty',
]);

/**
 * Refuses what the profile does not support, the way servers without it answer: an unknown
 * type is 404, an interaction the type lacks (or a conditional write) 405, a search parameter
 * it does not list 400; each an OperationOutcome with code `not-supported` naming what.
 * `searchParams` are the names of the request's search parameters, for search-type.
 * @see http://hl7.org/fhir/R4/http.html#general (405 for an unsupported interaction)
 */
export function policyRefusal(
  policy: SandboxPolicy,
  requested: RequestedInteraction,
  searchParams: readonly string[] = [],
): HttpError | undefined {
  const { resourceType, interaction } = requested;
  if (!policy.accepts(resourceType)) {
    return new HttpError(404, errorOutcome('not-supported', `Resource type not supported: ${resourceType}`));
  }
  if (!policy.allows(resourceType, interaction)) {
    return new HttpError(405, errorOutcome('not-supported', `Interaction ${interaction} is not supported for ${resourceType}`));
  }
  if (requested.conditional !== undefined && !policy.conditionalWrites) {
    return new HttpError(
      405,
      errorOutcome('not-supported', `Conditional ${interaction} is not supported for ${resourceType}: address the resource by id`),
    );
  }
  const allowed = policy.typeRules?.get(resourceType)?.searchParams;
  if (interaction === 'search-type' && allowed) {
    for (const name of searchParams) {
      const code = name.split(/[:.]/)[0] ?? name;
      if (!RESULT_PARAMETERS.has(code) && !allowed.has(code)) {
        return new HttpError(400, errorOutcome('not-supported', `Search parameter ${code} is not supported for ${resourceType}`, code));
      }
    }
  }
  return undefined;
}

/**
 * Refuses content the profile's write API does not take: an Observation outside the accepted
 * categories is 422, naming the category it had.
 */
export function contentRefusal(policy: SandboxPolicy, resource: Resource | undefined): HttpError | undefined {
  const categories = policy.observationCategories;
  if (!categories || resource?.resourceType !== 'Observation') {
    return undefined;
  }
  const codes = ((resource as Observation).category ?? []).flatMap((c) =>
    (c.coding ?? []).filter((coding) => coding.system === OBSERVATION_CATEGORY_SYSTEM).map((coding) => coding.code ?? ''),
  );
  if (codes.some((code) => categories.has(code))) {
    return undefined;
  }
  const had = codes.length > 0 ? `category ${codes.join(', ')}` : 'no category';
  return new HttpError(
    422,
    errorOutcome(
      'business-rule',
      `Observation with ${had} is not accepted: this server takes Observation.category ${[...categories].join(' or ')} only`,
      'Observation.category',
    ),
  );
}
