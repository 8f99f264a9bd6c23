import type { PlanDefinition, PlanDefinitionAction, PlanDefinitionActionRelatedAction } from '@medplum/fhirtypes';
import type { CourseActivity } from '@kap/domain';
import { coding, HL7, UCUM } from './codes';
import { kapCoding } from './code-system';
import { COURSE_ACTIVITY_DEFS } from './course-activities';
import { concept, quantity } from './datatypes';
import { KAP_CANONICAL, resourceIdentifier } from './resource-ids';
import { validateResource } from './validate';

/**
 * The KAP palliative course as a Clinical Reasoning PlanDefinition; applying it to a patient
 * gives the CarePlan (`applyCoursePlan`).
 * @see https://hl7.org/fhir/R4/plandefinition.html
 */

export const COURSE_PLAN_ID = 'kap-palliative-course';
export const COURSE_PLAN_URL = `${KAP_CANONICAL}/PlanDefinition/${COURSE_PLAN_ID}`;
export const COURSE_PLAN_VERSION = '1.0.0';
/** `instantiatesCanonical` of CarePlans made from this version of the plan. */
export const COURSE_PLAN_CANONICAL = `${COURSE_PLAN_URL}|${COURSE_PLAN_VERSION}`;

const after = (actionId: CourseActivity, withinHours?: number): PlanDefinitionActionRelatedAction => ({
  actionId,
  relationship: 'after-end',
  ...(withinHours === undefined ? {} : { offsetRange: { low: quantity(0, UCUM.hour), high: quantity(withinHours, UCUM.hour) } }),
});

/**
 * Order between activities, as data. Integration follows each session inside the window,
 * which lasts up to a week (docs/domain.md#4-integration); goals of care and the medication review have no
 * fixed place in the sources, so they are not ordered.
 */
const RELATED: Readonly<Partial<Record<CourseActivity, readonly PlanDefinitionActionRelatedAction[]>>> = {
  'dosing-session-1': [after('preparation')],
  'dosing-session-2': [after('dosing-session-1')],
  integration: [after('dosing-session-1', 7 * 24), after('dosing-session-2', 7 * 24)],
};

/** A session is monitored for up to three hours (docs/domain.md#3-dosing-sessions). */
const SESSION_DURATION = quantity(3, UCUM.hour);

function action(def: (typeof COURSE_ACTIVITY_DEFS)[number]): PlanDefinitionAction {
  const related = RELATED[def.activity];
  return {
    id: def.activity,
    title: def.title,
    description: def.description,
    code: [{ coding: [kapCoding(def.activity), ...(def.standard ? [coding(def.standard)] : [])], text: def.title }],
    requiredBehavior: def.optional ? 'could' : 'must',
    ...(def.dosing ? { timingDuration: SESSION_DURATION } : {}),
    ...(related ? { relatedAction: [...related] } : {}),
  };
}

/** The `kap-palliative-course` PlanDefinition, served at `/fhir/R4/PlanDefinition/kap-palliative-course`. */
export function buildCoursePlanDefinition(): PlanDefinition {
  const plan: PlanDefinition = {
    resourceType: 'PlanDefinition',
    id: COURSE_PLAN_ID,
    identifier: [resourceIdentifier(`PlanDefinition/${COURSE_PLAN_ID}`)],
    url: COURSE_PLAN_URL,
    version: COURSE_PLAN_VERSION,
    name: 'KapPalliativeCourse',
    title: 'Ketamine-assisted psychotherapy course in palliative care',
    type: concept([HL7.clinicalProtocol]),
    status: 'active',
    experimental: false,
    publisher: 'KAP FHIR adapter',
    description:
      'A time-limited course of ketamine-assisted psychotherapy for palliative patients: preparatory psychotherapy; two dosing sessions, the first at a low dose and the second at a moderate dose, each with concurrent non-directive psychotherapy; integrative psychotherapy after each session inside the neuroplasticity window; a goals-of-care discussion; and an optional medication review. Screening (contraindications and informed consent) comes before the course.',
    action: COURSE_ACTIVITY_DEFS.map(action),
  };
  return validateResource(plan);
}
