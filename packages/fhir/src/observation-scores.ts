import type { CarePlan, Observation, Patient, QuestionnaireResponse, Reference } from '@medplum/fhirtypes';
import type { Measures } from '@kap/contracts';
import { instrumentTotal, severityBand, type InstrumentName } from '@kap/domain';
import { HL7, LOINC, type CodeDef } from './codes';
import { concept, kapConcept } from './datatypes';
import { resourceId, resourceIdentifier } from './resource-ids';
import { screeningKey } from './business-keys';
import type { ScreeningContext } from './screening-context';
import { validateResource } from './validate';

/**
 * Symptom scores (PHQ-9, GAD-7) as total-score Observations, at the screening (the baseline)
 * and at every later measure, so change can be shown over the course (docs/domain.md#5b-safety-and-outcomes). The
 * score is a number (`valueInteger`); its published severity band is the interpretation.
 * @see https://hl7.org/fhir/R4/observation.html
 * @see https://hl7.org/fhir/uv/sdc/STU3/extraction.html (derivedFrom the QuestionnaireResponse)
 */

interface ScoreDef {
  readonly measure: keyof Measures & InstrumentName;
  readonly path: string;
  readonly code: CodeDef;
  readonly label: string;
}

export const SCORE_DEFS: readonly ScoreDef[] = [
  { measure: 'phq9', path: 'observation/phq9-total', code: LOINC.phq9Total, label: 'PHQ-9' },
  { measure: 'gad7', path: 'observation/gad7-total', code: LOINC.gad7Total, label: 'GAD-7' },
];

export interface TotalScoreInput {
  /** The business key of the Observation. */
  readonly key: string;
  readonly instrument: InstrumentName;
  readonly items: readonly number[];
  readonly subject: Reference<Patient>;
  readonly effective: string;
  readonly issued: string;
  /** The QuestionnaireResponse the items were answered in. */
  readonly response: Reference<QuestionnaireResponse>;
  /** The course's CarePlan, for a measure taken during a course. */
  readonly basedOn?: Reference<CarePlan>;
}

/** One total-score Observation, interpreted with its severity band. */
export function buildTotalScoreObservation(input: TotalScoreInput): Observation {
  const def = SCORE_DEFS.find((d) => d.measure === input.instrument);
  if (!def) throw new Error(`No score definition for ${input.instrument}`);
  const total = instrumentTotal(input.instrument, input.items);
  const band = severityBand(input.instrument, total);
  const obs: Observation = {
    resourceType: 'Observation',
    id: resourceId(input.key),
    identifier: [resourceIdentifier(input.key)],
    ...(input.basedOn ? { basedOn: [input.basedOn] } : {}),
    status: 'final',
    category: [concept([HL7.surveyCategory])],
    code: concept([def.code]),
    subject: input.subject,
    effectiveDateTime: input.effective,
    issued: input.issued,
    valueInteger: total,
    interpretation: [kapConcept(`severity-${band.band}`, `${band.label} (${def.label} ${band.min}-${band.max})`)],
    derivedFrom: [input.response],
  };
  return validateResource(obs);
}

/** One total-score Observation per instrument whose items were given at the screening. */
export function buildScoreObservations(ctx: ScreeningContext, measures: Measures | undefined): Observation[] {
  return SCORE_DEFS.flatMap((def) => {
    const items = measures?.[def.measure];
    if (!items) return [];
    return [
      buildTotalScoreObservation({
        key: screeningKey(ctx.screeningId, def.path),
        instrument: def.measure,
        items,
        subject: ctx.subject,
        effective: ctx.effective,
        issued: ctx.issued,
        response: ctx.response,
      }),
    ];
  });
}
