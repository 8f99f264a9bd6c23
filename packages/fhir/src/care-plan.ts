import type { CarePlan, CarePlanActivity, CarePlanActivityDetail, Patient, Reference } from '@medplum/fhirtypes';
import type { CourseActivity, StopReason } from '@kap/domain';
import { RXNORM, SNOMED } from './codes';
import { activityConcept, COURSE_ACTIVITY_DEFS, type CourseActivityDef } from './course-activities';
import { concept } from './datatypes';
import { KAP_CODE_SYSTEM_URL, resourceId, resourceIdentifier } from './resource-ids';
import { COURSE_PLAN_CANONICAL } from './plan-definition';
import { validateResource } from './validate';
import { carePlanKey } from './business-keys';

/**
 * The CarePlan of one course: the `kap-palliative-course` PlanDefinition applied to a patient.
 * @see https://hl7.org/fhir/R4/careplan.html
 * @see https://hl7.org/fhir/R4/plandefinition.html#12.18.3.3
 */

export interface CoursePlanInput {
  readonly courseId: string;
  /** The Patient, as a Reference or as a Patient id. */
  readonly patient: Reference<Patient> | string;
  /** First day of the course, `YYYY-MM-DD`. */
  readonly startDate: string;
  /** What the course rests on, e.g. the screening's eligibility Observation and Consent. */
  readonly supportingInfo: readonly Reference[];
  readonly created: string;
}

export type ActivityStatus = CarePlanActivityDetail['status'];

function activity(def: CourseActivityDef): CarePlanActivity {
  return {
    detail: {
      kind: 'ServiceRequest',
      code: activityConcept(def),
      status: 'not-started',
      description: def.description,
      ...(def.dosing ? { productCodeableConcept: concept([SNOMED.ketamine, RXNORM.ketamine], 'Ketamine') } : {}),
    },
  };
}

/**
 * Applies the course PlanDefinition: an active CarePlan with one `not-started` activity per
 * phase, in plan order (the medication review is optional, as its description says).
 */
export function applyCoursePlan(input: CoursePlanInput): CarePlan {
  const key = carePlanKey(input.courseId);
  const subject: Reference<Patient> = typeof input.patient === 'string' ? { reference: `Patient/${input.patient}` } : input.patient;
  const carePlan: CarePlan = {
    resourceType: 'CarePlan',
    id: resourceId(key),
    identifier: [resourceIdentifier(key)],
    instantiatesCanonical: [COURSE_PLAN_CANONICAL],
    status: 'active',
    intent: 'plan',
    category: [concept([SNOMED.palliativeCare])],
    title: 'Ketamine-assisted psychotherapy course',
    subject,
    period: { start: input.startDate },
    created: input.created,
    ...(input.supportingInfo.length > 0 ? { supportingInfo: [...input.supportingInfo] } : {}),
    activity: COURSE_ACTIVITY_DEFS.map(activity),
  };
  return validateResource(carePlan);
}

const isActivity = (a: CarePlanActivity, which: CourseActivity): boolean =>
  a.detail?.code?.coding?.some((c) => c.system === KAP_CODE_SYSTEM_URL && c.code === which) ?? false;

/**
 * A copy of `carePlan` with the `which` activity replaced by `update(activity)`; the input
 * is left unchanged. Throws when the plan has no such activity (it was not made from the
 * course PlanDefinition), since silently changing nothing would lose a recorded event.
 */
export function updateCarePlanActivity(
  carePlan: CarePlan,
  which: CourseActivity,
  update: (activity: CarePlanActivity) => CarePlanActivity,
): CarePlan {
  const activities = carePlan.activity ?? [];
  if (!activities.some((a) => isActivity(a, which))) {
    throw new Error(`CarePlan/${carePlan.id ?? '?'} has no "${which}" activity`);
  }
  const updated: CarePlan = { ...carePlan, activity: activities.map((a) => (isActivity(a, which) ? update(a) : a)) };
  return validateResource(updated);
}

/** A copy of `carePlan` with `which` activity set to `status`; the input is left unchanged. */
export function setActivityStatus(carePlan: CarePlan, which: CourseActivity, status: ActivityStatus): CarePlan {
  return updateCarePlanActivity(carePlan, which, (a) => (a.detail ? { ...a, detail: { ...a.detail, status } } : a));
}

/**
 * The CarePlan after dosing session `sessionNumber` was recorded: that session `completed`,
 * and integration `in-progress` (its follow-ups are now scheduled inside the window).
 */
export function recordSessionOnCarePlan(carePlan: CarePlan, sessionNumber: 1 | 2): CarePlan {
  const afterSession = setActivityStatus(carePlan, sessionNumber === 1 ? 'dosing-session-1' : 'dosing-session-2', 'completed');
  return setActivityStatus(afterSession, 'integration', 'in-progress');
}

/** The note a stopped CarePlan carries, one per reason (docs/domain.md#4-integration). */
export const STOP_REASON_TEXT: Readonly<Record<StopReason, string>> = {
  completed: 'Course completed.',
  withdrawn: 'Course stopped: the patient withdrew.',
  deceased: 'Course stopped: the patient died.',
  discharged: 'Course stopped: the patient was discharged to care that does not continue the course.',
};

/** Activities already at an end keep their status. */
const FINAL_ACTIVITY_STATUSES: ReadonlySet<ActivityStatus> = new Set<ActivityStatus>([
  'completed',
  'cancelled',
  'stopped',
  'entered-in-error',
]);
/** Started but not finished: R4 calls ending these `stopped`; the rest never began, so `cancelled`. */
const STARTED_ACTIVITY_STATUSES: ReadonlySet<ActivityStatus> = new Set<ActivityStatus>(['in-progress', 'on-hold']);

/**
 * The CarePlan of a course that stopped at `at`: `completed` when the course was completed,
 * else `revoked` (R4: "the authorization for the plan was withdrawn before it was completed");
 * `period.end` set; every activity not yet at an end becomes `stopped` when it had started
 * and `cancelled` otherwise; a note with the reason. `meta` is kept for the If-Match update.
 * @see https://hl7.org/fhir/R4/valueset-request-status.html
 * @see https://hl7.org/fhir/R4/valueset-care-plan-activity-status.html
 */
export function stopCarePlan(carePlan: CarePlan, reason: StopReason, at: string): CarePlan {
  const activity = (carePlan.activity ?? []).map((a): CarePlanActivity => {
    const status = a.detail?.status;
    if (!a.detail || !status || FINAL_ACTIVITY_STATUSES.has(status)) return a;
    return { ...a, detail: { ...a.detail, status: STARTED_ACTIVITY_STATUSES.has(status) ? 'stopped' : 'cancelled' } };
  });
  const stopped: CarePlan = {
    ...carePlan,
    status: reason === 'completed' ? 'completed' : 'revoked',
    period: { ...carePlan.period, end: at },
    ...(activity.length > 0 ? { activity } : {}),
    note: [...(carePlan.note ?? []), { time: at, text: STOP_REASON_TEXT[reason] }],
  };
  return validateResource(stopped);
}

/**
 * The CarePlan with `refs` (measure total-score Observations) added to the `outcomeReference`
 * of the activity the measure follows, once each; the input is left unchanged.
 * @see https://hl7.org/fhir/R4/careplan-definitions.html#CarePlan.activity.outcomeReference
 */
export function linkActivityOutcomes(carePlan: CarePlan, which: CourseActivity, refs: readonly Reference[]): CarePlan {
  return updateCarePlanActivity(carePlan, which, (a) => {
    const existing = a.outcomeReference ?? [];
    const added = refs.filter((r) => !existing.some((e) => e.reference === r.reference));
    return added.length > 0 ? { ...a, outcomeReference: [...existing, ...added] } : a;
  });
}
