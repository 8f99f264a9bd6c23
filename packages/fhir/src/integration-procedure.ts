import type { CarePlan, Patient, Procedure, Reference, Task } from '@medplum/fhirtypes';
import { activityConcept } from './course-activities';
import { resourceId, resourceIdentifier } from './resource-ids';
import { validateResource } from './validate';
import { followUpProcedureKey, followUpTaskKey } from './business-keys';

/**
 * An integration psychotherapy session as a Procedure, recorded when a follow-up is completed.
 * @see https://hl7.org/fhir/R4/procedure.html
 */

export interface IntegrationProcedureInput {
  followUpId: string;
  patient: Reference<Patient>;
  /**
   * The follow-up Task. R4 Procedure has no element that references a Task (`basedOn` takes
   * CarePlan or ServiceRequest), so the link is the Task's `output`; the reference is used
   * here only to check the pair belongs together.
   */
  task: Reference<Task>;
  carePlan: Reference<CarePlan>;
  completedAt: string;
  note?: string;
}

/** A `completed` integration Procedure (our code and SNOMED 75516001), based on the CarePlan. */
export function buildIntegrationProcedure(input: IntegrationProcedureInput): Procedure {
  const key = followUpProcedureKey(input.followUpId);
  const expectedTask = `Task/${resourceId(followUpTaskKey(input.followUpId))}`;
  if (input.task.reference && input.task.reference !== expectedTask) {
    throw new Error(`Follow-up ${input.followUpId} has Task ${expectedTask}, not ${input.task.reference}`);
  }
  const procedure: Procedure = {
    resourceType: 'Procedure',
    id: resourceId(key),
    identifier: [resourceIdentifier(key)],
    basedOn: [input.carePlan],
    status: 'completed',
    code: activityConcept('integration'),
    subject: input.patient,
    performedDateTime: input.completedAt,
    ...(input.note ? { note: [{ time: input.completedAt, text: input.note }] } : {}),
  };
  return validateResource(procedure);
}
