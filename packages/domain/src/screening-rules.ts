import { CONTRAINDICATION_KEYS, CONTRAINDICATION_TEXT, type ContraindicationKey } from './contraindications';
import { phq9SelfHarmFinding } from './measures';

/** How strongly a positive item counts: `absolute` contraindicates, `caution` asks for clinician review. */
export type FindingSeverity = 'absolute' | 'caution';

export const SCREENING_OUTCOMES = ['eligible', 'needs-review', 'contraindicated'] as const;
export type ScreeningOutcome = (typeof SCREENING_OUTCOMES)[number];

/** Each outcome as a clinician reads it (the CodeSystem's display, the course page's badge). */
export const SCREENING_OUTCOME_LABEL: Readonly<Record<ScreeningOutcome, string>> = {
  eligible: 'Eligible',
  'needs-review': 'Needs clinician review',
  contraindicated: 'Contraindicated',
};

/**
 * The code of a finding: a contraindication key, `blood-pressure` for the measured-BP rule, or
 * `phq9-self-harm` for a positive PHQ-9 item 9.
 */
export type FindingCode = ContraindicationKey | 'blood-pressure' | 'phq9-self-harm';

export interface Finding {
  readonly code: FindingCode;
  readonly severity: FindingSeverity;
  readonly text: string;
}

/**
 * A site's screening rules. Each contraindication key maps to the severity it carries when
 * answered yes; measured blood pressure strictly above either limit counts as uncontrolled
 * hypertension.
 */
export interface ScreeningRuleTable {
  readonly severities: Readonly<Record<ContraindicationKey, FindingSeverity>>;
  readonly bloodPressure: {
    readonly systolicAbove: number;
    readonly diastolicAbove: number;
    readonly severity: FindingSeverity;
  };
}

/** Absolute in the sources: 002 (hypertension, CV disease, psychosis, mania) plus pregnancy and allergy (docs/domain.md#2-screening). */
const ABSOLUTE_BY_DEFAULT: ReadonlySet<ContraindicationKey> = new Set([
  'uncontrolledHypertension',
  'cardiovascularDisease',
  'activePsychosis',
  'acuteManiaOrHypomania',
  'pregnancyOrBreastfeeding',
  'ketamineAllergy',
]);

/**
 * The default rule table (docs/domain.md#2-screening). The blood-pressure limits follow the esketamine
 * (SPRAVATO) prescribing information's general guide for an elevated pre-dose pressure,
 * >140/90 mmHg; a site changes them through configuration.
 */
export const DEFAULT_SCREENING_RULES: ScreeningRuleTable = Object.freeze({
  severities: Object.freeze(
    Object.fromEntries(CONTRAINDICATION_KEYS.map((key) => [key, ABSOLUTE_BY_DEFAULT.has(key) ? 'absolute' : 'caution'])) as Record<
      ContraindicationKey,
      FindingSeverity
    >,
  ),
  bloodPressure: Object.freeze({ systolicAbove: 140, diastolicAbove: 90, severity: 'absolute' as const }),
});

/** A site's overrides on top of the defaults; anything left out keeps its default. */
export interface ScreeningRuleOverrides {
  readonly severities?: Partial<Record<ContraindicationKey, FindingSeverity>>;
  readonly bloodPressure?: Partial<ScreeningRuleTable['bloodPressure']>;
}

export function makeScreeningRules(overrides: ScreeningRuleOverrides = {}): ScreeningRuleTable {
  return {
    severities: { ...DEFAULT_SCREENING_RULES.severities, ...overrides.severities },
    bloodPressure: { ...DEFAULT_SCREENING_RULES.bloodPressure, ...overrides.bloodPressure },
  };
}

export interface ScreeningFacts {
  /** Missing keys count as `false`. */
  readonly contraindications: Readonly<Partial<Record<ContraindicationKey, boolean>>>;
  readonly vitals: { readonly systolic: number; readonly diastolic: number };
  /** The baseline measures; a positive PHQ-9 item 9 is a finding whatever the rule table says. */
  readonly measures?: { readonly phq9?: readonly number[] };
}

export interface ScreeningEvaluation {
  readonly outcome: ScreeningOutcome;
  readonly findings: readonly Finding[];
}

/**
 * Evaluates a screening against a rule table. Decision support only: the outcome is shown
 * with its reasons and a clinician signs it off (docs/domain.md#6-what-this-is-not).
 */
export function evaluateScreening(facts: ScreeningFacts, rules: ScreeningRuleTable = DEFAULT_SCREENING_RULES): ScreeningEvaluation {
  const findings: Finding[] = [];
  for (const key of CONTRAINDICATION_KEYS) {
    if (facts.contraindications[key] === true) {
      findings.push({ code: key, severity: rules.severities[key], text: CONTRAINDICATION_TEXT[key] });
    }
  }
  const bp = rules.bloodPressure;
  const { systolic, diastolic } = facts.vitals;
  if (systolic > bp.systolicAbove || diastolic > bp.diastolicAbove) {
    findings.push({
      code: 'blood-pressure',
      severity: bp.severity,
      text: `Measured blood pressure ${systolic}/${diastolic} mmHg is above ${bp.systolicAbove}/${bp.diastolicAbove} mmHg: counts as uncontrolled hypertension`,
    });
  }
  // Not in the rule table on purpose: a site cannot switch this one off or make it absolute.
  const selfHarm = phq9SelfHarmFinding(facts.measures?.phq9);
  if (selfHarm) findings.push({ code: selfHarm.code, severity: selfHarm.severity, text: selfHarm.text });
  return { outcome: outcomeOf(findings), findings };
}

function outcomeOf(findings: readonly Finding[]): ScreeningOutcome {
  if (findings.some((f) => f.severity === 'absolute')) return 'contraindicated';
  if (findings.length > 0) return 'needs-review';
  return 'eligible';
}

/**
 * Builds a site's rule table from its settings, refusing unknown keys or severities so a
 * typo in configuration stops start-up instead of silently keeping a default.
 */
export function screeningRulesFromSettings(settings: {
  readonly systolicAbove: number;
  readonly diastolicAbove: number;
  readonly severityOverrides?: Readonly<Record<string, unknown>>;
}): ScreeningRuleTable {
  const severities: Partial<Record<ContraindicationKey, FindingSeverity>> = {};
  for (const [key, value] of Object.entries(settings.severityOverrides ?? {})) {
    if (key === 'phq9-self-harm') {
      throw new Error('"phq9-self-harm" cannot be overridden: a positive PHQ-9 item 9 always needs review and always alerts the care team');
    }
    if (!(CONTRAINDICATION_KEYS as readonly string[]).includes(key)) {
      throw new Error(`Unknown contraindication key in severity overrides: "${key}"`);
    }
    if (value !== 'absolute' && value !== 'caution') {
      throw new Error(`Severity for "${key}" must be "absolute" or "caution", not ${JSON.stringify(value)}`);
    }
    severities[key as ContraindicationKey] = value;
  }
  return makeScreeningRules({
    severities,
    bloodPressure: { systolicAbove: settings.systolicAbove, diastolicAbove: settings.diastolicAbove },
  });
}
