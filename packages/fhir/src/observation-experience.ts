import type { Observation } from '@medplum/fhirtypes';
import type { DosingSessionRequest } from '@kap/contracts';
import { HL7, UCUM } from './codes';
import type { ExperienceRating } from './code-system';
import { concept, kapConcept, quantity } from './datatypes';
import { resourceId, resourceIdentifier } from './resource-ids';
import type { SessionContext } from './session-context';
import { validateResource } from './validate';

/**
 * How the patient experienced a session (dissociative versus psychedelic quality, distress;
 * docs/domain.md#3-dosing-sessions) as one survey Observation per given rating. No standard code exists, so
 * the codes are ours.
 * @see https://hl7.org/fhir/R4/observation.html
 */

type Experience = NonNullable<DosingSessionRequest['experience']>;

/** The request field of each rating, in the order the session lists them. */
export const EXPERIENCE_RATINGS: readonly { readonly field: keyof Experience; readonly code: ExperienceRating }[] = [
  { field: 'dissociation', code: 'dissociation' },
  { field: 'egoDissolution', code: 'ego-dissolution' },
  { field: 'distress', code: 'distress' },
];

/**
 * One Observation per rating given, `partOf` the session Procedure. The rating is a number
 * on a 0-10 scale and may be fractional (the contract allows it), so it is a `valueQuantity`
 * in UCUM `{score}` rather than `valueInteger`. It is rated about the session as a whole,
 * so `effectiveDateTime` is the session's end.
 */
export function buildExperienceObservations(ctx: SessionContext, experience: Experience | undefined, sessionEnd: string): Observation[] {
  return EXPERIENCE_RATINGS.flatMap(({ field, code }) => {
    const value = experience?.[field];
    if (value === undefined) return [];
    const key = `${ctx.key}/experience/${code}`;
    const obs: Observation = {
      resourceType: 'Observation',
      id: resourceId(key),
      identifier: [resourceIdentifier(key)],
      partOf: [ctx.procedure],
      status: 'final',
      category: [concept([HL7.surveyCategory])],
      code: kapConcept(code),
      subject: ctx.subject,
      encounter: ctx.encounter,
      effectiveDateTime: sessionEnd,
      issued: ctx.recordedAt,
      valueQuantity: quantity(value, UCUM.score),
    };
    return [validateResource(obs)];
  });
}
