import type { Goal, Patient, Reference } from '@medplum/fhirtypes';
import type { GoalsOfCareRequest } from '@kap/contracts';
import { GOAL_PRIORITY, LOINC } from './codes';
import { concept } from './datatypes';
import { resourceId, resourceIdentifier } from './resource-ids';
import { validateResource } from './validate';

/**
 * A goal the patient stated in a goals-of-care discussion; the goals become the goals of the
 * course CarePlan (docs/domain.md#5-goals-of-care).
 * @see https://hl7.org/fhir/R4/goal.html
 */

export type StatedGoal = GoalsOfCareRequest['goals'][number];

export interface GoalInput {
  readonly key: string;
  readonly goal: StatedGoal;
  readonly subject: Reference<Patient>;
  /** `YYYY-MM-DD`: the day of the discussion. */
  readonly startDate: string;
}

/**
 * An `active` Goal with the stated text, expressed by the patient (the discussion records
 * the patient's goals), categorised as a personal health goal: LOINC 87528-6, from the value
 * set the PACIO Advance Directive IG binds to Goal.category. Priority from the R4
 * goal-priority codes when given.
 */
export function buildGoal(input: GoalInput): Goal {
  const goal: Goal = {
    resourceType: 'Goal',
    id: resourceId(input.key),
    identifier: [resourceIdentifier(input.key)],
    lifecycleStatus: 'active',
    category: [concept([LOINC.personalHealthGoal])],
    ...(input.goal.priority ? { priority: concept([GOAL_PRIORITY[input.goal.priority]]) } : {}),
    description: { text: input.goal.description },
    subject: input.subject,
    startDate: input.startDate,
    expressedBy: input.subject,
  };
  return validateResource(goal);
}
