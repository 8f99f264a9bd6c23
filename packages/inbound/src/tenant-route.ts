import type { Hl7Problem } from './adt';
import type { InboundSettings } from './event';

/** A tenant as the MLLP listener sees it: how its messages are read and which sending facilities are its. */
export interface Hl7Tenant {
  readonly id: string;
  readonly settings: InboundSettings;
  /** MSH-4 sending facilities (HD.1, or the whole field) whose messages are this tenant's (HL7_SENDING_FACILITIES). */
  readonly sendingFacilities: ReadonlySet<string>;
}

export type Hl7Route = { readonly tenant: Hl7Tenant } | { readonly problem: Hl7Problem };

/**
 * Whose message this is. MLLP carries no credentials, so the sending facility (MSH-4)
 * decides: a deployment with one tenant takes every message as that tenant's; with
 * several, the one tenant that lists the facility takes it, and a message no tenant
 * lists is refused (HL7 table 0357 code 103, table value not found) rather than guessed.
 */
export function routeHl7Message(msh4: string | undefined, tenants: readonly Hl7Tenant[]): Hl7Route {
  if (tenants.length === 1) return { tenant: tenants[0] as Hl7Tenant };
  const field = (msh4 ?? '').trim();
  const namespace = field.split('^')[0]?.trim() ?? '';
  const matches = tenants.filter((t) => (namespace && t.sendingFacilities.has(namespace)) || (field && t.sendingFacilities.has(field)));
  if (matches.length === 1) return { tenant: matches[0] as Hl7Tenant };
  return {
    problem: {
      code: '103',
      text: field
        ? `MSH-4 sending facility ${namespace || field} is not assigned to a tenant here (HL7_SENDING_FACILITIES)`
        : 'MSH-4 (sending facility) is missing: with several tenants it decides whose message this is',
      segment: 'MSH',
      field: 4,
    },
  };
}

/**
 * The problems of a routing where two tenants claim one sending facility (its messages
 * would be neither's); empty when it is sound. A tenant that claims none simply receives
 * no HL7 while others share the listener (it may use FHIR notifications instead).
 */
export function hl7RoutingProblems(tenants: readonly Hl7Tenant[]): string[] {
  if (tenants.length < 2) return [];
  const problems: string[] = [];
  const owner = new Map<string, string>();
  for (const t of tenants) {
    for (const facility of t.sendingFacilities) {
      const first = owner.get(facility);
      if (first) problems.push(`tenant "${t.id}": sending facility ${facility} is already tenant "${first}"'s`);
      else owner.set(facility, t.id);
    }
  }
  return problems;
}
