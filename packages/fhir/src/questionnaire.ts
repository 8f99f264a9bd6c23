import type { Extension, Questionnaire, QuestionnaireItem, QuestionnaireItemAnswerOption } from '@medplum/fhirtypes';
import { CONTRAINDICATION_KEYS, CONTRAINDICATION_TEXT } from '@kap/domain';
import { coding, FREQUENCY_ANSWERS, GAD7_ITEMS, LOINC, PHQ9_ITEMS, UCUM, type CodeDef, type UnitDef } from './codes';
import { kapCoding } from './code-system';
import { KAP_CANONICAL, resourceIdentifier } from './resource-ids';
import { validateResource } from './validate';

/**
 * The `kap-screening` Questionnaire, in the SDC style: LOINC-coded items, computable units,
 * ordinal values on answer options, and observation-based extraction marked per item.
 * @see https://hl7.org/fhir/R4/questionnaire.html
 * @see https://hl7.org/fhir/uv/sdc/STU3/extraction.html#observation-based-extraction
 */

export const SCREENING_QUESTIONNAIRE_ID = 'kap-screening';
export const SCREENING_QUESTIONNAIRE_URL = `${KAP_CANONICAL}/Questionnaire/${SCREENING_QUESTIONNAIRE_ID}`;
export const SCREENING_QUESTIONNAIRE_VERSION = '1.0.0';

/** https://hl7.org/fhir/R4/extension-questionnaire-unit.html (valueCoding). */
export const QUESTIONNAIRE_UNIT_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/questionnaire-unit';
/** https://hl7.org/fhir/R4/extension-ordinalvalue.html (valueDecimal, on answerOption). */
export const ORDINAL_VALUE_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/ordinalValue';
/** https://hl7.org/fhir/uv/sdc/StructureDefinition-sdc-questionnaire-observationExtract.html (valueBoolean). */
export const OBSERVATION_EXTRACT_EXTENSION = 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-observationExtract';
export const SDC_QUESTIONNAIRE_PROFILE = 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire';

/** Group linkIds; the item linkIds inside them are the REST field names. */
export const SCREENING_GROUPS = {
  contraindications: 'contraindications',
  vitals: 'vitals',
  phq9: 'phq9',
  gad7: 'gad7',
  consent: 'consent',
} as const;
export const PERFORMED_AT_LINK_ID = 'performedAt';
export const CONSENT_LINK_IDS = { informed: 'informed', signedAt: 'signedAt' } as const;

export type VitalField = 'systolic' | 'diastolic' | 'heartRate' | 'spo2' | 'respiratoryRate' | 'weightKg';

export interface VitalItemDef {
  readonly field: VitalField;
  readonly text: string;
  readonly type: 'integer' | 'decimal';
  readonly code: CodeDef;
  readonly unit: UnitDef;
  readonly required: boolean;
  /**
   * Extracted as its own Observation. Systolic and diastolic are not: they become the two
   * components of one blood-pressure panel, as the R4 `bp` profile requires.
   */
  readonly extract: boolean;
}

/** The vitals items, a table in REST field order. */
export const VITAL_ITEMS: readonly VitalItemDef[] = [
  {
    field: 'systolic',
    text: 'Systolic blood pressure',
    type: 'integer',
    code: LOINC.systolic,
    unit: UCUM.mmHg,
    required: true,
    extract: false,
  },
  {
    field: 'diastolic',
    text: 'Diastolic blood pressure',
    type: 'integer',
    code: LOINC.diastolic,
    unit: UCUM.mmHg,
    required: true,
    extract: false,
  },
  {
    field: 'heartRate',
    text: 'Heart rate',
    type: 'integer',
    code: LOINC.heartRate,
    unit: UCUM.beatsPerMinute,
    required: true,
    extract: true,
  },
  {
    field: 'spo2',
    text: 'Oxygen saturation (pulse oximetry)',
    type: 'decimal',
    code: LOINC.oxygenSaturationPulseOx,
    unit: UCUM.percent,
    required: false,
    extract: true,
  },
  {
    field: 'respiratoryRate',
    text: 'Respiratory rate',
    type: 'integer',
    code: LOINC.respiratoryRate,
    unit: UCUM.breathsPerMinute,
    required: false,
    extract: true,
  },
  { field: 'weightKg', text: 'Body weight', type: 'decimal', code: LOINC.bodyWeight, unit: UCUM.kg, required: false, extract: true },
];

/** An instrument whose items share the frequency answer list. */
export interface InstrumentDef {
  readonly group: 'phq9' | 'gad7';
  readonly panel: CodeDef;
  readonly items: readonly CodeDef[];
  readonly prompt: string;
}

export const INSTRUMENTS: readonly InstrumentDef[] = [
  {
    group: 'phq9',
    panel: LOINC.phq9Panel,
    items: PHQ9_ITEMS,
    prompt: 'PHQ-9: over the last 2 weeks, how often have you been bothered by any of the following problems?',
  },
  {
    group: 'gad7',
    panel: LOINC.gad7Panel,
    items: GAD7_ITEMS,
    prompt: 'GAD-7: over the last 2 weeks, how often have you been bothered by the following problems?',
  },
];

/** `phq9-1`..`phq9-9`, `gad7-1`..`gad7-7`. */
export function instrumentLinkId(group: InstrumentDef['group'], index: number): string {
  return `${group}-${index + 1}`;
}

const extractExtension: Extension = { url: OBSERVATION_EXTRACT_EXTENSION, valueBoolean: true };

const frequencyOptions: QuestionnaireItemAnswerOption[] = FREQUENCY_ANSWERS.map((answer, score) => ({
  valueCoding: coding(answer),
  extension: [{ url: ORDINAL_VALUE_EXTENSION, valueDecimal: score }],
}));

function contraindicationGroup(): QuestionnaireItem {
  return {
    linkId: SCREENING_GROUPS.contraindications,
    type: 'group',
    text: 'Contraindications and cautions (answer yes if present)',
    item: CONTRAINDICATION_KEYS.map((key) => ({
      linkId: key,
      type: 'boolean',
      code: [kapCoding(key)],
      text: CONTRAINDICATION_TEXT[key],
    })),
  };
}

function vitalsGroup(): QuestionnaireItem {
  return {
    linkId: SCREENING_GROUPS.vitals,
    type: 'group',
    text: 'Vital signs',
    required: true,
    item: VITAL_ITEMS.map((v) => ({
      linkId: v.field,
      type: v.type,
      code: [coding(v.code)],
      text: v.text,
      ...(v.required ? { required: true } : {}),
      extension: [{ url: QUESTIONNAIRE_UNIT_EXTENSION, valueCoding: coding(v.unit) }, ...(v.extract ? [extractExtension] : [])],
    })),
  };
}

/** The items of an instrument, LOINC-coded, each answered from the frequency list; shared with the measure Questionnaires. */
export function instrumentQuestions(def: InstrumentDef): QuestionnaireItem[] {
  return def.items.map((item, index) => ({
    linkId: instrumentLinkId(def.group, index),
    type: 'choice',
    code: [coding(item)],
    text: item.display,
    required: true,
    answerOption: frequencyOptions,
  }));
}

function instrumentGroup(def: InstrumentDef): QuestionnaireItem {
  return { linkId: def.group, type: 'group', code: [coding(def.panel)], text: def.prompt, item: instrumentQuestions(def) };
}

function consentGroup(): QuestionnaireItem {
  return {
    linkId: SCREENING_GROUPS.consent,
    type: 'group',
    text: 'Informed consent',
    item: [
      {
        linkId: CONSENT_LINK_IDS.informed,
        type: 'boolean',
        text: 'Informed consent to ketamine-assisted psychotherapy was given',
        required: true,
      },
      { linkId: CONSENT_LINK_IDS.signedAt, type: 'dateTime', text: 'Consent signed at' },
    ],
  };
}

/**
 * The `kap-screening` Questionnaire, served at `/fhir/R4/Questionnaire/kap-screening`.
 * A completed response to it is the FHIR entry point of a screening.
 */
export function buildScreeningQuestionnaire(): Questionnaire {
  const questionnaire: Questionnaire = {
    resourceType: 'Questionnaire',
    id: SCREENING_QUESTIONNAIRE_ID,
    meta: { profile: [SDC_QUESTIONNAIRE_PROFILE] },
    identifier: [resourceIdentifier(`Questionnaire/${SCREENING_QUESTIONNAIRE_ID}`)],
    url: SCREENING_QUESTIONNAIRE_URL,
    version: SCREENING_QUESTIONNAIRE_VERSION,
    name: 'KapScreening',
    title: 'Ketamine-assisted psychotherapy screening',
    status: 'active',
    experimental: false,
    subjectType: ['Patient'],
    publisher: 'KAP FHIR adapter',
    description:
      'Screening for ketamine-assisted psychotherapy in palliative care: contraindications, vital signs, PHQ-9 and GAD-7 baselines, and informed consent. The outcome is decision support that a clinician signs off.',
    copyright:
      'Contains LOINC content (http://loinc.org), copyright Regenstrief Institute, Inc. PHQ-9 and GAD-7 were developed by Drs. Spitzer, Williams, Kroenke and colleagues; no permission is required to reproduce them.',
    item: [
      { linkId: PERFORMED_AT_LINK_ID, type: 'dateTime', text: 'Screening performed at', required: true },
      contraindicationGroup(),
      vitalsGroup(),
      ...INSTRUMENTS.map(instrumentGroup),
      consentGroup(),
    ],
  };
  return validateResource(questionnaire);
}
