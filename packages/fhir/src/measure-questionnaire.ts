import type { Questionnaire } from '@medplum/fhirtypes';
import type { InstrumentName } from '@kap/domain';
import { coding } from './codes';
import { KAP_CANONICAL, resourceIdentifier } from './resource-ids';
import { INSTRUMENTS, instrumentQuestions, SDC_QUESTIONNAIRE_PROFILE, type InstrumentDef } from './questionnaire';
import { validateResource } from './validate';

/**
 * The PHQ-9 and GAD-7 on their own (`kap-phq9`, `kap-gad7`), for the measures taken after
 * the screening: the same LOINC-coded items and answer list as the screening's groups, so a
 * score means the same thing at baseline and later. `Questionnaire.code` is the LOINC panel.
 * @see https://hl7.org/fhir/R4/questionnaire.html
 */

export const MEASURE_QUESTIONNAIRE_VERSION = '1.0.0';

const TITLES: Readonly<Record<InstrumentName, { name: string; title: string; description: string }>> = {
  phq9: {
    name: 'KapPhq9',
    title: 'Patient Health Questionnaire (PHQ-9)',
    description:
      'PHQ-9 depression measure taken during and after a KAP course; the screening is its baseline. A positive item 9 alerts the care team.',
  },
  gad7: {
    name: 'KapGad7',
    title: 'Generalized Anxiety Disorder 7-item scale (GAD-7)',
    description: 'GAD-7 anxiety measure taken during and after a KAP course; the screening is its baseline.',
  },
};

export const measureQuestionnaireId = (instrument: InstrumentName): string => `kap-${instrument}`;
export const measureQuestionnaireUrl = (instrument: InstrumentName): string =>
  `${KAP_CANONICAL}/Questionnaire/${measureQuestionnaireId(instrument)}`;

export function instrumentDef(instrument: InstrumentName): InstrumentDef {
  const def = INSTRUMENTS.find((d) => d.group === instrument);
  if (!def) throw new Error(`No instrument ${instrument}`);
  return def;
}

export function buildMeasureQuestionnaire(instrument: InstrumentName): Questionnaire {
  const def = instrumentDef(instrument);
  const id = measureQuestionnaireId(instrument);
  const text = TITLES[instrument];
  const questionnaire: Questionnaire = {
    resourceType: 'Questionnaire',
    id,
    meta: { profile: [SDC_QUESTIONNAIRE_PROFILE] },
    identifier: [resourceIdentifier(`Questionnaire/${id}`)],
    url: measureQuestionnaireUrl(instrument),
    version: MEASURE_QUESTIONNAIRE_VERSION,
    name: text.name,
    title: text.title,
    status: 'active',
    experimental: false,
    subjectType: ['Patient'],
    publisher: 'KAP FHIR adapter',
    description: text.description,
    copyright:
      'Contains LOINC content (http://loinc.org), copyright Regenstrief Institute, Inc. PHQ-9 and GAD-7 were developed by Drs. Spitzer, Williams, Kroenke and colleagues; no permission is required to reproduce them.',
    code: [coding(def.panel)],
    item: [{ linkId: def.group, type: 'display', text: def.prompt }, ...instrumentQuestions(def)],
  };
  return validateResource(questionnaire);
}
