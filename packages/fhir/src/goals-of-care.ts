import type { Annotation, CarePlan, Goal, Observation, Patient, Procedure, Reference, Resource } from '@medplum/fhirtypes';
import type { GoalsOfCareRequest } from '@kap/contracts';
import { clinicDay } from '@kap/domain';
import { updateCarePlanActivity } from './care-plan';
import { activityConcept } from './course-activities';
import { referenceTo } from './datatypes';
import { buildGoal } from './goal';
import { resourceId, resourceIdentifier } from './resource-ids';
import { buildPreferenceObservations } from './observation-preferences';
import { validateResource } from './validate';
import { goalKey, goalsOfCareKey } from './business-keys';

/**
 * A goals-of-care discussion (docs/domain.md#5-goals-of-care): who took part, the patient's values and goals,
 * preferences for care at the end of life, and decisions; the goals become the CarePlan's.
 * @see https://hl7.org/fhir/R4/procedure.html
 * @see https://hl7.org/fhir/R4/careplan.html
 */

export interface GoalsOfCareInput {
  courseId: string;
  discussionId: string;
  patient: Reference<Patient>;
  /** The current stored version of the course CarePlan. */
  carePlan: CarePlan;
  request: GoalsOfCareRequest;
  recordedAt: string;
  /** The clinic's IANA time zone: a Goal starts on the discussion's day in the clinic. */
  timeZone: string;
}

export interface GoalsOfCareResources {
  procedure: Procedure;
  goals: Goal[];
  preferences: Observation[];
  /** The revised CarePlan: same id and meta, the new goals added, the goals-of-care activity completed. */
  carePlan: CarePlan;
  /** procedure, goals, preferences, carePlan. */
  all: Resource[];
}

/** The business key prefix of a discussion. */

/**
 * The discussion as a `completed` Procedure (our code and SNOMED 713603004 advance care
 * planning; no dedicated goals-of-care code was found, docs/domain.md#7-codes). Participants are
 * named, not registered, so each `performer.actor` is a display-only Reference. Values and
 * decisions are free text, so they are notes, each prefixed with what it is.
 */
function buildDiscussionProcedure(key: string, input: GoalsOfCareInput): Procedure {
  const { request } = input;
  const at = request.discussedAt;
  const note: Annotation[] = [
    ...request.values.map((text) => ({ time: at, text: `Value: ${text}` })),
    ...(request.decisions ?? []).map((text) => ({ time: at, text: `Decision: ${text}` })),
  ];
  const procedure: Procedure = {
    resourceType: 'Procedure',
    id: resourceId(key),
    identifier: [resourceIdentifier(key)],
    basedOn: [referenceTo(input.carePlan)],
    status: 'completed',
    code: activityConcept('goals-of-care'),
    subject: input.patient,
    performedDateTime: at,
    performer: request.participants.map((display) => ({ actor: { display } })),
    ...(note.length > 0 ? { note } : {}),
  };
  return validateResource(procedure);
}

/**
 * The resources of one goals-of-care discussion. The CarePlan keeps its earlier goals and
 * gains the new ones, its goals-of-care activity becomes `completed` with the discussion as
 * outcome, and its `meta` is left as given so the EHR update can use `If-Match`.
 */
export function buildGoalsOfCareResources(input: GoalsOfCareInput): GoalsOfCareResources {
  const key = goalsOfCareKey(input.courseId, input.discussionId);
  const procedure = buildDiscussionProcedure(`${key}/procedure`, input);
  // A Goal's start is a date: the day of the discussion on the clinic's calendar.
  const startDate = clinicDay(input.request.discussedAt, input.timeZone);
  const goals = input.request.goals.map((goal, index) => buildGoal({ key: goalKey(key, index), goal, subject: input.patient, startDate }));
  const preferences = buildPreferenceObservations(
    {
      key,
      subject: input.patient,
      discussedAt: input.request.discussedAt,
      recordedAt: input.recordedAt,
      discussion: referenceTo(procedure),
    },
    input.request.preferences,
  );
  const known = new Set((input.carePlan.goal ?? []).map((g) => g.reference));
  const added = goals.map((g) => referenceTo(g)).filter((r) => !known.has(r.reference));
  const withGoals: CarePlan = { ...input.carePlan, goal: [...(input.carePlan.goal ?? []), ...added] };
  const carePlan = updateCarePlanActivity(withGoals, 'goals-of-care', (a) => ({
    ...a,
    outcomeReference: [...(a.outcomeReference ?? []).filter((r) => r.reference !== `Procedure/${procedure.id}`), referenceTo(procedure)],
    ...(a.detail ? { detail: { ...a.detail, status: 'completed' as const } } : {}),
  }));
  return { procedure, goals, preferences, carePlan, all: [procedure, ...goals, ...preferences, carePlan] };
}
