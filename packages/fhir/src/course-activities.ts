import type { CodeableConcept } from '@medplum/fhirtypes';
import type { CourseActivity } from '@kap/domain';
import { coding, SNOMED, type CodeDef } from './codes';
import { kapCoding } from './code-system';

/**
 * The course activities as data (docs/domain.md#1-the-course-of-care): what each one is, its standard code where
 * one fits, and whether the palliative model requires it. The PlanDefinition and the
 * CarePlan are both built from this table.
 */
export interface CourseActivityDef {
  readonly activity: CourseActivity;
  readonly title: string;
  readonly description: string;
  /** A standard code for the kind of service, next to our code that names the activity. */
  readonly standard?: CodeDef;
  /** Dosing sessions carry the product (ketamine) and the planned dose level. */
  readonly dosing?: { readonly session: 1 | 2; readonly doseLevel: 'low' | 'moderate' };
  readonly optional: boolean;
}

export const COURSE_ACTIVITY_DEFS: readonly CourseActivityDef[] = [
  {
    activity: 'preparation',
    title: 'Preparatory psychotherapy',
    description: 'Preparatory psychotherapy: therapeutic alliance, intention setting, set and setting, education.',
    standard: SNOMED.psychotherapy,
    optional: false,
  },
  {
    activity: 'dosing-session-1',
    title: 'Dosing session 1 (low dose)',
    description:
      'Ketamine dosing session 1 at a low dose (embodied, "minimal" self; verbal, lightly dissociated), with concurrent non-directive psychotherapy and blood pressure and heart rate monitoring throughout.',
    standard: SNOMED.psychotherapy,
    dosing: { session: 1, doseLevel: 'low' },
    optional: false,
  },
  {
    activity: 'dosing-session-2',
    title: 'Dosing session 2 (moderate dose)',
    description:
      'Ketamine dosing session 2 at a moderate dose (narrative, "biographical" self; largely inward), with concurrent non-directive psychotherapy and blood pressure and heart rate monitoring throughout.',
    standard: SNOMED.psychotherapy,
    dosing: { session: 2, doseLevel: 'moderate' },
    optional: false,
  },
  {
    activity: 'integration',
    title: 'Integration psychotherapy',
    description:
      'Integration talk therapy after each dosing session, inside the neuroplasticity window (follow-ups within 24 hours, at about 72 hours and before 7 days by default).',
    standard: SNOMED.psychotherapy,
    optional: false,
  },
  {
    activity: 'goals-of-care',
    title: 'Goals-of-care discussion',
    description:
      "Goals-of-care discussion: the patient's values, goals and preferences for end-of-life care; the goals update this care plan.",
    standard: SNOMED.advanceCarePlanning,
    optional: false,
  },
  {
    activity: 'medication-review',
    title: 'Medication review (optional)',
    description: 'Optional pharmacological optimisation: a review of the current medication.',
    standard: SNOMED.medicationReview,
    optional: true,
  },
];

/** The definition of `which`; every activity has one. */
export function courseActivityDef(which: CourseActivity): CourseActivityDef {
  const def = COURSE_ACTIVITY_DEFS.find((d) => d.activity === which);
  if (!def) throw new Error(`No course activity "${which}"`);
  return def;
}

/**
 * The code of an activity, and of what records it (the session Procedure, a follow-up Task):
 * our code naming the activity, then the standard code of the kind of service.
 */
export function activityConcept(which: CourseActivity | CourseActivityDef): CodeableConcept {
  const def = typeof which === 'string' ? courseActivityDef(which) : which;
  return { coding: [kapCoding(def.activity), ...(def.standard ? [coding(def.standard)] : [])], text: def.title };
}
