import type { CarePlan, Patient, Procedure, Reference, Task } from '@medplum/fhirtypes';
import { activityConcept } from './course-activities';
import { kapConcept } from './datatypes';
import { resourceId, resourceIdentifier } from './resource-ids';
import { validateResource } from './validate';
import { followUpGroupKey, followUpTaskKey } from './business-keys';

/**
 * An integration follow-up (docs/domain.md#4-integration) as a Task for the care team: to be done before its
 * window closes, escalated when it closes undone, cancelled when the course stops, completed
 * with the integration Procedure as output.
 * @see https://hl7.org/fhir/R4/task.html
 * @see https://hl7.org/fhir/R4/workflow-management.html
 */

/** The business key of a follow-up; its Task and its integration Procedure derive from it. */

export interface FollowUpTaskInput {
  followUpId: string;
  courseId: string;
  sessionNumber: number;
  /** 1-based position among the session's follow-ups. */
  sequence: number;
  /** When the window closes. */
  dueBy: string;
  patient: Reference<Patient>;
  carePlan: Reference<CarePlan>;
  sessionProcedure: Reference<Procedure>;
  authoredOn: string;
}

/** `businessStatus.text` of an escalated follow-up. */
export const ESCALATED_STATUS_TEXT = 'escalated: window closed';

/**
 * A `requested` routine order to hold integration psychotherapy before `dueBy`
 * (`restriction.period.end`: "when fulfillment sought", so the window's close).
 * - `basedOn` is the CarePlan, the authorization the follow-up comes from;
 * - `reasonReference` is the session Procedure it integrates. Not `focus`: R4 reserves that
 *   for the request being fulfilled or the resource the task changes, and the task changes
 *   neither the session nor (directly) the plan;
 * - `groupIdentifier` groups the follow-ups of one session.
 */
export function buildFollowUpTask(input: FollowUpTaskInput): Task {
  const key = followUpTaskKey(input.followUpId);
  const task: Task = {
    resourceType: 'Task',
    id: resourceId(key),
    identifier: [resourceIdentifier(key)],
    basedOn: [input.carePlan],
    groupIdentifier: resourceIdentifier(followUpGroupKey(input.courseId, input.sessionNumber)),
    status: 'requested',
    intent: 'order',
    priority: 'routine',
    code: activityConcept('integration'),
    description: `Integration psychotherapy follow-up ${input.sequence} after dosing session ${input.sessionNumber}, inside the neuroplasticity window: due by ${input.dueBy}.`,
    for: input.patient,
    authoredOn: input.authoredOn,
    lastModified: input.authoredOn,
    reasonReference: input.sessionProcedure,
    restriction: { period: { end: input.dueBy } },
  };
  return validateResource(task);
}

const isClosed = (task: Task): boolean => task.status === 'completed' || task.status === 'cancelled';

function refuseClosed(task: Task, action: string): void {
  if (isClosed(task)) throw new Error(`Cannot ${action} Task/${task.id ?? '?'}: it is ${task.status}`);
}

/**
 * The follow-up after its window closed undone: priority `urgent`, businessStatus
 * "escalated: window closed", a note, `lastModified`. The Task stays `requested`: the
 * integration is still worth doing. Escalating twice returns the Task unchanged, so a
 * retried job adds no second note.
 */
export function escalateFollowUpTask(task: Task, at: string): Task {
  if (task.businessStatus?.text === ESCALATED_STATUS_TEXT) return task;
  refuseClosed(task, 'escalate');
  const window = task.restriction?.period?.end;
  const escalated: Task = {
    ...task,
    businessStatus: { text: ESCALATED_STATUS_TEXT },
    priority: 'urgent',
    lastModified: at,
    note: [
      ...(task.note ?? []),
      {
        time: at,
        text: `The integration window closed${window ? ` at ${window}` : ''} before this follow-up was done; escalated to the care team.`,
      },
    ],
  };
  return validateResource(escalated);
}

/** The follow-up cancelled (the course stopped): status `cancelled` with the reason. Cancelling twice changes nothing. */
export function cancelFollowUpTask(task: Task, at: string, reason: string): Task {
  if (task.status === 'cancelled') return task;
  refuseClosed(task, 'cancel');
  const cancelled: Task = { ...task, status: 'cancelled', statusReason: { text: reason }, lastModified: at };
  return validateResource(cancelled);
}

/** The follow-up done: status `completed`, `executionPeriod.end`, the integration Procedure as output. */
export function completeFollowUpTask(task: Task, at: string, procedure: Reference<Procedure>, recordedAt: string = at): Task {
  refuseClosed(task, 'complete');
  const completed: Task = {
    ...task,
    status: 'completed',
    executionPeriod: { ...task.executionPeriod, end: at },
    // When the record changed, which may be well after a follow-up entered late (Task inv-1: not before authoredOn).
    lastModified: recordedAt,
    output: [{ type: kapConcept('integration', 'Integration psychotherapy session'), valueReference: procedure }],
  };
  return validateResource(completed);
}
