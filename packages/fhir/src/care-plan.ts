import type { CarePlan, CarePlanActivity, CarePlanActivityDetail, Patient, Reference } from '@medplum/fhirtypes';
import type { CourseActivity } from '@kap/domain';
import { coding, RXNORM, SNOMED } from './codes';
import { kapCoding } from './code-system';
import { COURSE_ACTIVITY_DEFS, type CourseActivityDef } from './course-activities';
import { concept } from './datatypes';
import { KAP_CODE_SYSTEM_URL, resourceId, resourceIdentifier } from './identity';
import { COURSE_PLAN_CANONICAL } from './plan-definition';
import { validateResource } from './validate';

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

export const carePlanKey = (courseId: string): string => `course/${courseId}/care-plan`;

function activity(def: CourseActivityDef): CarePlanActivity {
  return {
    detail: {
      kind: 'ServiceRequest',
      code: { coding: [kapCoding(def.activity), ...(def.standard ? [coding(def.standard)] : [])], text: def.title },
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

/** A copy of `carePlan` with `which` activity set to `status`; the input is left unchanged. */
export function setActivityStatus(carePlan: CarePlan, which: CourseActivity, status: ActivityStatus): CarePlan {
  const activities = carePlan.activity ?? [];
  if (!activities.some((a) => isActivity(a, which))) {
    throw new Error(`CarePlan/${carePlan.id ?? '?'} has no "${which}" activity`);
  }
  const updated: CarePlan = {
    ...carePlan,
    activity: activities.map((a) => (isActivity(a, which) && a.detail ? { ...a, detail: { ...a.detail, status } } : a)),
  };
  return validateResource(updated);
}
