import type { Patient, Resource } from '@medplum/fhirtypes';
import { phq9SelfHarmFinding, type ScreeningEvaluation } from '@kap/domain';
import type { ScreeningRequest } from '@kap/contracts';
import { buildConsent } from './consent';
import { referenceTo } from './datatypes';
import { buildEligibilityObservation, buildFindingObservation } from './observation-eligibility';
import { buildScoreObservations } from './observation-scores';
import { buildVitalSignObservations } from './observation-vitals';
import { buildScreeningQuestionnaireResponse } from './questionnaire-response';
import type { ScreeningContext } from './screening-context';
import { buildSelfHarmAlert } from './self-harm-alert';
import { screeningSelfHarmAlertKey } from './business-keys';

function nameText(patient: Patient): string | undefined {
  const name = patient.name?.[0];
  const text = name?.text ?? [...(name?.given ?? []), name?.family ?? ''].join(' ').trim();
  return text || undefined;
}

/** Everything one screening produces, for `buildScreeningResources`. */
export interface ScreeningInput {
  readonly screeningId: string;
  readonly request: ScreeningRequest;
  readonly evaluation: ScreeningEvaluation;
  /** The Patient the resources are about (from `buildPatient`); not itself returned. */
  readonly patient: Patient;
  /** When the adapter recorded the screening (`Observation.issued`). */
  readonly recordedAt: string;
}

/**
 * The FHIR resources of one screening, in this order: the QuestionnaireResponse; the vital
 * signs (blood pressure always, the others when measured); PHQ-9 and GAD-7 totals when given;
 * one Observation per finding; the eligibility Observation grouping them; the Consent when
 * consent was given. Every extracted resource is `derivedFrom` the response (SDC extraction),
 * and every id derives from the screening id, so building twice gives the same resources.
 * @see https://hl7.org/fhir/uv/sdc/STU3/extraction.html
 */
export function buildScreeningResources(input: ScreeningInput): Resource[] {
  const { screeningId, request, evaluation, patient, recordedAt } = input;
  const display = nameText(patient);
  const subject = referenceTo(patient, display);
  const response = buildScreeningQuestionnaireResponse(screeningId, request, subject);
  const ctx: ScreeningContext = {
    screeningId,
    subject,
    effective: request.performedAt,
    issued: recordedAt,
    response: referenceTo(response),
  };
  const vitals = buildVitalSignObservations(ctx, request.vitals);
  const bloodPressure = vitals[0];
  const scores = buildScoreObservations(ctx, request.measures);
  const findings = evaluation.findings.map((f) => buildFindingObservation(ctx, f, bloodPressure && referenceTo(bloodPressure)));
  const eligibility = buildEligibilityObservation(ctx, evaluation, findings);
  const consent = buildConsent(ctx, request.consent);
  const alert = selfHarmAlert(ctx, input, findings);
  return [response, ...vitals, ...scores, ...findings, eligibility, ...(consent ? [consent] : []), ...alert];
}

/** The safety Flag and urgent Communication of a positive PHQ-9 item 9, evidenced by its finding Observation. */
function selfHarmAlert(ctx: ScreeningContext, input: ScreeningInput, findings: readonly Resource[]): Resource[] {
  const finding = phq9SelfHarmFinding(input.request.measures?.phq9);
  if (!finding) return [];
  const index = input.evaluation.findings.findIndex((f) => f.code === 'phq9-self-harm');
  const evidence = findings[index];
  const alert = buildSelfHarmAlert({
    key: screeningSelfHarmAlertKey(ctx.screeningId),
    subject: ctx.subject,
    finding,
    answeredAt: ctx.effective,
    recordedAt: ctx.issued,
    evidence: evidence ? referenceTo(evidence) : ctx.response,
    where: 'at screening',
  });
  return [alert.flag, alert.communication];
}
