import type { CarePlan, Encounter, Patient, Procedure, Reference } from '@medplum/fhirtypes';
import { activityConcept } from './course-activities';
import { resourceId, resourceIdentifier } from './resource-ids';
import { validateResource } from './validate';

/**
 * The ketamine-assisted psychotherapy session itself as a Procedure: the concurrent
 * psychotherapy during the acute effects, which the administration, the serial vital signs
 * and the experience ratings are `partOf`.
 * @see https://hl7.org/fhir/R4/procedure.html
 */

export interface SessionProcedureInput {
  readonly key: string;
  readonly sessionNumber: 1 | 2;
  readonly subject: Reference<Patient>;
  readonly encounter: Reference<Encounter>;
  readonly carePlan: Reference<CarePlan>;
  readonly start: string;
  readonly end: string;
}

/** A `completed` Procedure coded as the session's activity (our code, SNOMED 75516001), based on the CarePlan. */
export function buildSessionProcedure(input: SessionProcedureInput): Procedure {
  const procedure: Procedure = {
    resourceType: 'Procedure',
    id: resourceId(input.key),
    identifier: [resourceIdentifier(input.key)],
    basedOn: [input.carePlan],
    status: 'completed',
    code: activityConcept(input.sessionNumber === 1 ? 'dosing-session-1' : 'dosing-session-2'),
    subject: input.subject,
    encounter: input.encounter,
    performedPeriod: { start: input.start, end: input.end },
  };
  return validateResource(procedure);
}
