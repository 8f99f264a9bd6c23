import type { Observation, Reference } from '@medplum/fhirtypes';
import type { Finding, ScreeningEvaluation } from '@kap/domain';
import type { ReviewRequest } from '@kap/contracts';
import { HL7, type CodeDef } from './codes';
import { KAP_CODE_SYSTEM_URL, resourceId, resourceIdentifier } from './resource-ids';
import { concept, kapConcept, referenceTo } from './datatypes';
import type { ScreeningContext } from './screening-context';
import { validateResource } from './validate';
import { eligibilityKey, findingKey } from './business-keys';

/**
 * The screening outcome as an Observation (our code, value = outcome) whose `hasMember`
 * are one Observation per finding, each keeping its severity and reason so a clinician can
 * see why (docs/domain.md#2-screening). Decision support only; `applyScreeningReview` records the sign-off.
 * @see https://hl7.org/fhir/R4/observation.html#obsgrouping
 */

const surveyCategory = [concept([HL7.surveyCategory] satisfies CodeDef[])];

/** One finding: coded with its key, valued with its severity, the reason as a note. */
export function buildFindingObservation(
  ctx: ScreeningContext,
  finding: Finding,
  bloodPressure: Reference<Observation> | undefined,
): Observation {
  const key = findingKey(ctx.screeningId, finding.code);
  // The blood-pressure finding comes from the measurement, the others from the answers.
  const source = finding.code === 'blood-pressure' && bloodPressure ? bloodPressure : ctx.response;
  const obs: Observation = {
    resourceType: 'Observation',
    id: resourceId(key),
    identifier: [resourceIdentifier(key)],
    status: 'final',
    category: surveyCategory,
    code: kapConcept(finding.code),
    subject: ctx.subject,
    effectiveDateTime: ctx.effective,
    issued: ctx.issued,
    valueCodeableConcept: kapConcept(finding.severity),
    note: [{ text: finding.text }],
    derivedFrom: [source],
  };
  return validateResource(obs);
}

/** The eligibility Observation; `findings` are the Observations built for the evaluation's findings. */
export function buildEligibilityObservation(
  ctx: ScreeningContext,
  evaluation: ScreeningEvaluation,
  findings: readonly Observation[],
): Observation {
  const key = eligibilityKey(ctx.screeningId);
  const obs: Observation = {
    resourceType: 'Observation',
    id: resourceId(key),
    identifier: [resourceIdentifier(key)],
    status: 'final',
    category: surveyCategory,
    code: kapConcept('screening-eligibility'),
    subject: ctx.subject,
    effectiveDateTime: ctx.effective,
    issued: ctx.issued,
    valueCodeableConcept: kapConcept(evaluation.outcome),
    ...(findings.length > 0 ? { hasMember: findings.map((f) => referenceTo(f)) } : {}),
    derivedFrom: [ctx.response],
  };
  return validateResource(obs);
}

const isReviewComponent = (c: NonNullable<Observation['component']>[number]): boolean =>
  c.code.coding?.some((x) => x.system === KAP_CODE_SYSTEM_URL && x.code === 'review-decision') ?? false;

/**
 * The eligibility Observation after a clinician's review: status `amended`, the decision as
 * a `review-decision` component, the reviewer as performer, and the note (with its time).
 * A second review replaces the first decision; notes accumulate.
 * @see https://hl7.org/fhir/R4/observation.html#amended
 */
export function applyScreeningReview(eligibility: Observation, review: ReviewRequest, at: string): Observation {
  const amended: Observation = {
    ...eligibility,
    status: 'amended',
    performer: [{ display: review.reviewer }],
    component: [
      ...(eligibility.component ?? []).filter((c) => !isReviewComponent(c)),
      { code: kapConcept('review-decision'), valueCodeableConcept: kapConcept(review.decision) },
    ],
    note: [
      ...(eligibility.note ?? []),
      { authorString: review.reviewer, time: at, text: review.note ?? `Clinician review: ${review.decision}` },
    ],
  };
  return validateResource(amended);
}
