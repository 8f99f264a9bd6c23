import type { Encounter, Identifier, Patient, Reference } from '@medplum/fhirtypes';
import { coding, HL7 } from './codes';
import { activityConcept } from './course-activities';
import { KAP_CANONICAL, resourceId, resourceIdentifier } from './resource-ids';
import { validateResource } from './validate';

/**
 * The visit of a dosing session as an Encounter.
 * @see https://hl7.org/fhir/R4/encounter.html
 */

/** The adapter's own session id (the `sessionId` of the REST response), so the EHR can find the visit by it. */
export const SESSION_IDENTIFIER_SYSTEM = `${KAP_CANONICAL}/sid/dosing-session`;

export interface SessionEncounterInput {
  /** The business key of the Encounter. */
  readonly key: string;
  readonly sessionId: string;
  readonly sessionNumber: 1 | 2;
  readonly subject: Reference<Patient>;
  readonly start: string;
  readonly end: string;
}

/**
 * A `finished` ambulatory (`AMB`) Encounter over the session, typed as the dosing-session
 * activity (our code and psychotherapy). R4 `Encounter.basedOn` admits only ServiceRequest,
 * so the link to the CarePlan lives on the session Procedure (`basedOn`), not here.
 */
export function buildSessionEncounter(input: SessionEncounterInput): Encounter {
  const identifier: Identifier[] = [resourceIdentifier(input.key), { system: SESSION_IDENTIFIER_SYSTEM, value: input.sessionId }];
  const encounter: Encounter = {
    resourceType: 'Encounter',
    id: resourceId(input.key),
    identifier,
    status: 'finished',
    class: coding(HL7.ambulatory),
    type: [activityConcept(input.sessionNumber === 1 ? 'dosing-session-1' : 'dosing-session-2')],
    subject: input.subject,
    period: { start: input.start, end: input.end },
  };
  return validateResource(encounter);
}
