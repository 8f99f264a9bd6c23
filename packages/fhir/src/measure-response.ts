import type { CarePlan, Patient, QuestionnaireResponse, Reference } from '@medplum/fhirtypes';
import type { InstrumentName } from '@kap/domain';
import { coding, FREQUENCY_ANSWERS } from './codes';
import { resourceId, resourceIdentifier } from './resource-ids';
import { instrumentDef, MEASURE_QUESTIONNAIRE_VERSION, measureQuestionnaireUrl } from './measure-questionnaire';
import { instrumentLinkId } from './questionnaire';
import { validateResource } from './validate';

/**
 * A completed `kap-phq9` or `kap-gad7` QuestionnaireResponse: one measure of one instrument
 * during a course, `basedOn` the course's CarePlan.
 * @see https://hl7.org/fhir/R4/questionnaireresponse.html
 */
export interface MeasureResponseInput {
  readonly key: string;
  readonly instrument: InstrumentName;
  readonly items: readonly number[];
  readonly subject: Reference<Patient>;
  readonly authored: string;
  readonly carePlan: Reference<CarePlan>;
}

export function buildMeasureQuestionnaireResponse(input: MeasureResponseInput): QuestionnaireResponse {
  const def = instrumentDef(input.instrument);
  if (input.items.length !== def.items.length) {
    throw new Error(`${input.instrument} needs ${def.items.length} item scores, got ${input.items.length}`);
  }
  const qr: QuestionnaireResponse = {
    resourceType: 'QuestionnaireResponse',
    id: resourceId(input.key),
    identifier: resourceIdentifier(input.key),
    questionnaire: `${measureQuestionnaireUrl(input.instrument)}|${MEASURE_QUESTIONNAIRE_VERSION}`,
    basedOn: [input.carePlan],
    status: 'completed',
    subject: input.subject,
    authored: input.authored,
    item: input.items.map((score, index) => {
      const answer = FREQUENCY_ANSWERS[score];
      if (!answer) throw new Error(`${input.instrument} item ${index + 1}: score ${score} is not 0..3`);
      return { linkId: instrumentLinkId(def.group, index), answer: [{ valueCoding: coding(answer) }] };
    }),
  };
  return validateResource(qr);
}
