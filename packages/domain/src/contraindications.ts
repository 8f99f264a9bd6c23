/**
 * The contraindication items a KAP screening asks about. The keys are the public REST
 * contract (`docs/api.md#contraindication-keys`); the texts paraphrase the source lists (docs/domain.md#2-screening).
 */
export const CONTRAINDICATION_KEYS = [
  'notReadyForTherapy',
  'pregnancyOrBreastfeeding',
  'uncontrolledHypertension',
  'cardiovascularDisease',
  'uncontrolledHyperthyroidism',
  'acuteManiaOrHypomania',
  'activePsychosis',
  'psychosisHistory',
  'bipolarHistory',
  'ketamineAllergy',
  'ketamineMisuseHistory',
  'recentTraumaticBrainInjury',
  'raisedIntracranialPressure',
  'severeRespiratoryDisease',
  'obesityAnestheticRisk',
  'activeSubstanceUseDisorder',
  'recurrentCystitis',
  'poorRealityTesting',
] as const;

export type ContraindicationKey = (typeof CONTRAINDICATION_KEYS)[number];

/** Human-readable question/finding text for each item, used in reasons and the Questionnaire. */
export const CONTRAINDICATION_TEXT: Readonly<Record<ContraindicationKey, string>> = {
  notReadyForTherapy: 'Not ready or willing to engage in deep therapeutic work, including integration',
  pregnancyOrBreastfeeding: 'Pregnancy or breastfeeding',
  uncontrolledHypertension: 'Poorly controlled or untreated hypertension',
  cardiovascularDisease: 'Severe, unstable or significant cardiovascular disease',
  uncontrolledHyperthyroidism: 'Poorly controlled or untreated hyperthyroidism',
  acuteManiaOrHypomania: 'Acute or untreated mania or hypomania',
  activePsychosis: 'Active psychosis',
  psychosisHistory: 'History of psychosis or schizophrenia',
  bipolarHistory: 'History of bipolar disorder or mania',
  ketamineAllergy: 'Known allergy to ketamine',
  ketamineMisuseHistory: 'History of ketamine dependence or misuse',
  recentTraumaticBrainInjury: 'Recent traumatic brain injury',
  raisedIntracranialPressure: 'Raised intracranial pressure or another neurological condition needing medical review',
  severeRespiratoryDisease: 'Severe obstructive sleep apnoea or significant respiratory disease',
  obesityAnestheticRisk: 'Obesity that meaningfully raises anaesthetic risk',
  activeSubstanceUseDisorder: 'Active substance use disorder or ongoing addiction',
  recurrentCystitis: 'History of recurrent bladder inflammation (cystitis)',
  poorRealityTesting: 'Poor reality testing',
};

export function isContraindicationKey(key: string): key is ContraindicationKey {
  return (CONTRAINDICATION_KEYS as readonly string[]).includes(key);
}
