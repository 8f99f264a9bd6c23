import type { Observation } from '@medplum/fhirtypes';
import type { Measures } from '@kap/contracts';
import { HL7, LOINC, type CodeDef } from './codes';
import { concept } from './datatypes';
import { resourceId, resourceIdentifier } from './identity';
import { screeningKey } from './business-keys';
import type { ScreeningContext } from './screening-context';
import { validateResource } from './validate';

/**
 * Baseline symptom scores (PHQ-9, GAD-7) as total-score Observations, so change can be shown
 * after the course (domain.md §2). The score is a number (`valueInteger`), not a string.
 * @see https://hl7.org/fhir/R4/observation.html
 */

interface ScoreDef {
  readonly measure: keyof Measures;
  readonly path: string;
  readonly code: CodeDef;
}

export const SCORE_DEFS: readonly ScoreDef[] = [
  { measure: 'phq9', path: 'observation/phq9-total', code: LOINC.phq9Total },
  { measure: 'gad7', path: 'observation/gad7-total', code: LOINC.gad7Total },
];

/** One total-score Observation per instrument whose items were given. */
export function buildScoreObservations(ctx: ScreeningContext, measures: Measures | undefined): Observation[] {
  return SCORE_DEFS.flatMap((def) => {
    const items = measures?.[def.measure];
    if (!items) return [];
    const key = screeningKey(ctx.screeningId, def.path);
    const obs: Observation = {
      resourceType: 'Observation',
      id: resourceId(key),
      identifier: [resourceIdentifier(key)],
      status: 'final',
      category: [concept([HL7.surveyCategory])],
      code: concept([def.code]),
      subject: ctx.subject,
      effectiveDateTime: ctx.effective,
      issued: ctx.issued,
      valueInteger: items.reduce((sum, score) => sum + score, 0),
      derivedFrom: [ctx.response],
    };
    return [validateResource(obs)];
  });
}
