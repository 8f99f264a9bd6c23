import type { CarePlan, Observation, Patient, QuestionnaireResponse, Reference, Resource } from '@medplum/fhirtypes';
import { INSTRUMENT_NAMES, phq9SelfHarmFinding, TIMEPOINT_TEXT, type InstrumentName, type MeasureTimepoint } from '@kap/domain';
import { measureKey, measureResourceKey, measureSelfHarmAlertKey } from './business-keys';
import { referenceTo } from './datatypes';
import { buildMeasureQuestionnaireResponse } from './measure-response';
import { buildTotalScoreObservation } from './observation-scores';
import { buildSelfHarmAlert, type SelfHarmAlert } from './self-harm-alert';

/**
 * Everything one measure during a course produces (docs/domain.md#5b-safety-and-outcomes): per instrument given, its
 * QuestionnaireResponse and the total-score Observation `derivedFrom` it with the severity
 * band; and the self-harm alert when PHQ-9 item 9 is above 0. Ids derive from the measure's
 * key, so building again gives the same resources.
 */

export interface MeasureInput {
  readonly courseId: string;
  readonly measureId: string;
  readonly patient: Reference<Patient>;
  readonly carePlan: Reference<CarePlan>;
  readonly measuredAt: string;
  readonly recordedAt: string;
  readonly timepoint?: MeasureTimepoint;
  readonly phq9?: readonly number[];
  readonly gad7?: readonly number[];
}

export interface MeasureResources {
  readonly responses: QuestionnaireResponse[];
  /** The total-score Observations, one per instrument given, PHQ-9 first. */
  readonly totals: Observation[];
  /** The same resources by instrument. */
  readonly byInstrument: Partial<Record<InstrumentName, { readonly response: QuestionnaireResponse; readonly total: Observation }>>;
  readonly alert?: SelfHarmAlert;
  readonly all: Resource[];
}

export function buildMeasureResources(input: MeasureInput): MeasureResources {
  const key = measureKey(input.courseId, input.measureId);
  const responses: QuestionnaireResponse[] = [];
  const totals: Observation[] = [];
  const byInstrument: MeasureResources['byInstrument'] = {};
  for (const instrument of INSTRUMENT_NAMES) {
    const items = input[instrument as InstrumentName];
    if (!items) continue;
    const response = buildMeasureQuestionnaireResponse({
      key: measureResourceKey(key, instrument, 'questionnaire-response'),
      instrument,
      items,
      subject: input.patient,
      authored: input.measuredAt,
      carePlan: input.carePlan,
    });
    const total = buildTotalScoreObservation({
      key: measureResourceKey(key, instrument, 'total'),
      instrument,
      items,
      subject: input.patient,
      effective: input.measuredAt,
      issued: input.recordedAt,
      response: referenceTo(response),
      basedOn: input.carePlan,
    });
    responses.push(response);
    totals.push(total);
    byInstrument[instrument] = { response, total };
  }
  if (responses.length === 0) throw new Error('A measure needs a PHQ-9 or a GAD-7');
  const finding = phq9SelfHarmFinding(input.phq9);
  const phq9Response = byInstrument.phq9?.response;
  const alert =
    finding && phq9Response
      ? buildSelfHarmAlert({
          key: measureSelfHarmAlertKey(key),
          subject: input.patient,
          finding,
          answeredAt: input.measuredAt,
          recordedAt: input.recordedAt,
          evidence: referenceTo(phq9Response),
          where: input.timepoint ? `in the measure ${TIMEPOINT_TEXT[input.timepoint].toLowerCase()}` : 'in a course measure',
        })
      : undefined;
  const all: Resource[] = [...responses, ...totals, ...(alert ? [alert.flag, alert.communication] : [])];
  return { responses, totals, byInstrument, ...(alert ? { alert } : {}), all };
}
