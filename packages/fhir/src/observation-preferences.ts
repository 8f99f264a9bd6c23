import type { Observation, Patient, Procedure, Reference } from '@medplum/fhirtypes';
import type { GoalsOfCareRequest } from '@kap/contracts';
import { coding, HL7, LOINC } from './codes';
import { KAP_CONCEPTS, kapCoding, type CarePreference } from './code-system';
import { concept } from './datatypes';
import { resourceId, resourceIdentifier } from './resource-ids';
import { validateResource } from './validate';

/**
 * Care preferences for the end of life stated in a goals-of-care discussion (place of care,
 * code status) as Observations with the preference as text.
 * @see https://hl7.org/fhir/R4/observation.html
 */

type Preferences = NonNullable<GoalsOfCareRequest['preferences']>;

export const PREFERENCE_DEFS: readonly { readonly field: keyof Preferences; readonly code: CarePreference }[] = [
  { field: 'placeOfCare', code: 'place-of-care' },
  { field: 'codeStatus', code: 'code-status' },
];

export interface PreferenceContext {
  /** The business key prefix, e.g. `course/c1/goals-of-care/d1`. */
  readonly key: string;
  readonly subject: Reference<Patient>;
  readonly discussedAt: string;
  readonly recordedAt: string;
  /** The goals-of-care discussion Procedure the preferences were stated in. */
  readonly discussion: Reference<Procedure>;
}

/**
 * One Observation per preference given. Coded with our narrower code and LOINC 81378-2
 * ("Goals, preferences, and priorities under certain health conditions [Reported]"), the
 * PACIO term whose meaning covers a preference for a future health condition; 87528-6
 * ("Personal health goal") is a goal, not a preference, so it is used on Goals instead.
 */
export function buildPreferenceObservations(ctx: PreferenceContext, preferences: Preferences | undefined): Observation[] {
  return PREFERENCE_DEFS.flatMap(({ field, code }) => {
    const value = preferences?.[field];
    if (value === undefined) return [];
    const key = `${ctx.key}/preference/${code}`;
    const obs: Observation = {
      resourceType: 'Observation',
      id: resourceId(key),
      identifier: [resourceIdentifier(key)],
      partOf: [ctx.discussion],
      status: 'final',
      category: [concept([HL7.surveyCategory])],
      code: { coding: [kapCoding(code), coding(LOINC.goalsPreferencesPriorities)], text: KAP_CONCEPTS[code].display },
      subject: ctx.subject,
      effectiveDateTime: ctx.discussedAt,
      issued: ctx.recordedAt,
      valueString: value,
    };
    return [validateResource(obs)];
  });
}
