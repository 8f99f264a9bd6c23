import type { CodeSystem, CodeSystemConcept, Coding } from '@medplum/fhirtypes';
import {
  CONTRAINDICATION_KEYS,
  CONTRAINDICATION_TEXT,
  SCREENING_OUTCOME_LABEL,
  type ContraindicationKey,
  type CourseActivity,
  type DoseLevel,
  type FindingCode,
  type FindingSeverity,
  type ScreeningOutcome,
  type SeverityBand,
} from '@kap/domain';
import { KAP_CODE_SYSTEM_URL, resourceIdentifier } from './resource-ids';

/**
 * The project's own CodeSystem (docs/domain.md#7-codes): the eligibility outcome, contraindication
 * items, finding severities, dose levels, experience ratings, course activities, the
 * review decision, why the care team is told something, and the care preferences of a
 * goals-of-care discussion have no standard code.
 * @see https://hl7.org/fhir/R4/codesystem.html
 */

export type ExperienceRating = 'dissociation' | 'ego-dissolution' | 'distress';
export type ReviewDecision = 'approved' | 'declined';
/** Why the adapter told the care team something (Communication.category). */
export type CommunicationCategory =
  | 'follow-up-reminder'
  | 'follow-up-escalation'
  | 'blood-pressure-alert'
  | 'care-plan-update'
  | 'self-harm-alert'
  | 'safety-alert-escalation'
  | 'safety-alert-acknowledged'
  | 'safety-alert-resolved';
/**
 * A PHQ-9 or GAD-7 severity band, as the interpretation of a total score. Prefixed, since
 * `moderate` already names a dose level; LOINC has no answer list for these bands.
 */
export type SeverityBandCode = `severity-${SeverityBand}`;
/** Care preferences stated in a goals-of-care discussion, narrower than LOINC 81378-2. */
export type CarePreference = 'place-of-care' | 'code-status';

/** Every code of the CodeSystem; builders can only name codes of this type. */
export type KapCode =
  | 'screening-eligibility'
  | ScreeningOutcome
  | FindingCode
  | FindingSeverity
  | DoseLevel
  | ExperienceRating
  | CourseActivity
  | 'review-decision'
  | ReviewDecision
  | CommunicationCategory
  | CarePreference
  | SeverityBandCode;

interface ConceptDef {
  readonly display: string;
  readonly definition: string;
}

const contraindicationConcepts = Object.fromEntries(
  CONTRAINDICATION_KEYS.map((key) => [
    key,
    { display: CONTRAINDICATION_TEXT[key], definition: `Screening item: ${CONTRAINDICATION_TEXT[key].toLowerCase()}` },
  ]),
) as Record<ContraindicationKey, ConceptDef>;

/** The concepts, in the order the CodeSystem lists them. */
export const KAP_CONCEPTS: Readonly<Record<KapCode, ConceptDef>> = {
  'screening-eligibility': {
    display: 'KAP screening eligibility',
    definition: 'Decision-support outcome of a KAP screening; a clinician signs it off',
  },
  eligible: { display: SCREENING_OUTCOME_LABEL.eligible, definition: 'No contraindication was found' },
  'needs-review': { display: SCREENING_OUTCOME_LABEL['needs-review'], definition: 'A caution was found; a clinician must review it' },
  contraindicated: { display: SCREENING_OUTCOME_LABEL.contraindicated, definition: 'An absolute contraindication was found' },
  ...contraindicationConcepts,
  'blood-pressure': {
    display: 'Measured blood pressure above the configured threshold',
    definition: 'The measured blood pressure counts as uncontrolled hypertension',
  },
  'phq9-self-harm': {
    display: 'PHQ-9 item 9 positive: thoughts of being better off dead or of self-harm',
    definition: 'PHQ-9 item 9 answered above 0; needs clinician review and an urgent assessment whatever else was found',
  },
  absolute: { display: 'Absolute contraindication', definition: 'The finding contraindicates KAP' },
  caution: { display: 'Caution', definition: 'The finding needs clinician review before KAP' },
  low: { display: 'Low dose', definition: 'Verbal, lightly dissociated; embodied or "minimal" self' },
  moderate: { display: 'Moderate dose', definition: 'Some verbal capacity, largely inward; narrative self' },
  high: { display: 'High dose', definition: 'Non-verbal, deeply dissociated, visionary' },
  dissociation: { display: 'Dissociation rating', definition: 'Patient-rated dissociative quality of a session, 0-10' },
  'ego-dissolution': { display: 'Ego-dissolution rating', definition: 'Patient-rated psychedelic quality of a session, 0-10' },
  distress: { display: 'Distress rating', definition: 'Patient-rated distress during a session, 0-10' },
  preparation: { display: 'Preparatory psychotherapy', definition: 'Alliance, intention setting, set and setting, education' },
  'dosing-session-1': {
    display: 'Dosing session 1 (low dose)',
    definition: 'First ketamine session, low dose, with concurrent psychotherapy',
  },
  'dosing-session-2': {
    display: 'Dosing session 2 (moderate dose)',
    definition: 'Second ketamine session, moderate dose, with concurrent psychotherapy',
  },
  integration: {
    display: 'Integration psychotherapy',
    definition: 'Talk therapy after each dosing session, inside the neuroplasticity window',
  },
  'goals-of-care': { display: 'Goals-of-care discussion', definition: 'Values, goals and preferences for end-of-life care' },
  'medication-review': { display: 'Medication review', definition: 'Optional pharmacological optimisation' },
  'review-decision': { display: 'Clinician review decision', definition: 'The decision of the clinician who reviewed a screening' },
  approved: { display: 'Approved', definition: 'The reviewing clinician approved the course' },
  declined: { display: 'Declined', definition: 'The reviewing clinician declined the course' },
  'follow-up-reminder': { display: 'Follow-up reminder', definition: 'An integration follow-up is due soon' },
  'follow-up-escalation': {
    display: 'Follow-up escalation',
    definition: 'An integration follow-up was not done when its window closed',
  },
  'blood-pressure-alert': {
    display: 'In-session blood pressure alert',
    definition: 'A blood pressure measured during a dosing session was above the configured alert threshold',
  },
  'care-plan-update': { display: 'Care plan update', definition: 'The course care plan changed, e.g. after a goals-of-care discussion' },
  'place-of-care': { display: 'Preferred place of care', definition: 'Where the patient prefers to be cared for at the end of life' },
  'code-status': { display: 'Code status preference', definition: "The patient's stated preference about resuscitation" },
  'self-harm-alert': {
    display: 'Self-harm safety alert',
    definition: 'PHQ-9 item 9 was answered above 0 at a screening or a later measure; a clinician must assess the patient now',
  },
  'safety-alert-escalation': {
    display: 'Safety alert escalation',
    definition: 'A safety alert was not acknowledged by a clinician within the configured time; it is sent again at stat priority',
  },
  'safety-alert-acknowledged': {
    display: 'Safety alert acknowledged',
    definition: 'A clinician acknowledged a safety alert: it was seen and is being acted on',
  },
  'safety-alert-resolved': {
    display: 'Safety alert resolved',
    definition: 'A clinician resolved a safety alert; the Flag is no longer active',
  },
  'severity-minimal': { display: 'Minimal symptoms', definition: 'PHQ-9 or GAD-7 total 0-4' },
  'severity-mild': { display: 'Mild symptoms', definition: 'PHQ-9 or GAD-7 total 5-9' },
  'severity-moderate': { display: 'Moderate symptoms', definition: 'PHQ-9 or GAD-7 total 10-14' },
  'severity-moderately-severe': { display: 'Moderately severe symptoms', definition: 'PHQ-9 total 15-19' },
  'severity-severe': { display: 'Severe symptoms', definition: 'PHQ-9 total 20-27, or GAD-7 total 15-21' },
};

// 1.1.0 added the communication categories and the care preferences; 1.2.0 the self-harm
// finding and alert and the symptom severity bands.
export const KAP_CODE_SYSTEM_VERSION = '1.2.0';

/** A Coding of the project's CodeSystem. */
export function kapCoding(code: KapCode): Coding {
  return { system: KAP_CODE_SYSTEM_URL, code, display: KAP_CONCEPTS[code].display };
}

/** The CodeSystem resource, as served at `/fhir/R4/CodeSystem/kap`. */
export function buildKapCodeSystem(): CodeSystem {
  const concept: CodeSystemConcept[] = (Object.keys(KAP_CONCEPTS) as KapCode[]).map((code) => ({
    code,
    display: KAP_CONCEPTS[code].display,
    definition: KAP_CONCEPTS[code].definition,
  }));
  return {
    resourceType: 'CodeSystem',
    id: 'kap',
    identifier: [resourceIdentifier('CodeSystem/kap')],
    url: KAP_CODE_SYSTEM_URL,
    version: KAP_CODE_SYSTEM_VERSION,
    name: 'KapCodes',
    title: 'Ketamine-assisted psychotherapy codes',
    status: 'active',
    experimental: false,
    publisher: 'KAP FHIR adapter',
    description:
      'Concepts of ketamine-assisted psychotherapy in palliative care that have no standard code: screening outcome and findings, dose levels, experience ratings, course activities, review decisions, care-team communication categories and care preferences.',
    caseSensitive: true,
    content: 'complete',
    count: concept.length,
    concept,
  };
}
