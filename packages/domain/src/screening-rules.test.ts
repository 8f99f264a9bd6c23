import { CONTRAINDICATION_KEYS, type ContraindicationKey } from './contraindications';
import { DEFAULT_SCREENING_RULES, evaluateScreening, makeScreeningRules, screeningRulesFromSettings } from './screening-rules';

const normalBp = { systolic: 120, diastolic: 78 };

const ABSOLUTE: ContraindicationKey[] = [
  'uncontrolledHypertension',
  'cardiovascularDisease',
  'activePsychosis',
  'acuteManiaOrHypomania',
  'pregnancyOrBreastfeeding',
  'ketamineAllergy',
];

describe('evaluateScreening with the default rules', () => {
  it('is eligible when nothing is positive and blood pressure is normal', () => {
    expect(evaluateScreening({ contraindications: {}, vitals: normalBp })).toEqual({ outcome: 'eligible', findings: [] });
  });

  it('treats explicit false answers like missing ones', () => {
    const allFalse = Object.fromEntries(CONTRAINDICATION_KEYS.map((k) => [k, false]));
    expect(evaluateScreening({ contraindications: allFalse, vitals: normalBp }).outcome).toBe('eligible');
  });

  it.each(CONTRAINDICATION_KEYS.map((k) => [k]))('%s alone gives the outcome its severity sets, with its reason', (key) => {
    const result = evaluateScreening({ contraindications: { [key]: true }, vitals: normalBp });
    const absolute = ABSOLUTE.includes(key);
    expect(result.outcome).toBe(absolute ? 'contraindicated' : 'needs-review');
    expect(result.findings).toHaveLength(1);
    expect(result.findings[0]).toMatchObject({ code: key, severity: absolute ? 'absolute' : 'caution' });
    expect(result.findings[0]?.text.length).toBeGreaterThan(5);
  });

  it('marks exactly the six absolute items of docs/domain.md#2-screening as absolute', () => {
    const absolute = CONTRAINDICATION_KEYS.filter((k) => DEFAULT_SCREENING_RULES.severities[k] === 'absolute');
    expect([...absolute].sort()).toEqual([...ABSOLUTE].sort());
  });

  it('an absolute item wins over cautions and keeps every reason', () => {
    const result = evaluateScreening({
      contraindications: { recurrentCystitis: true, ketamineAllergy: true, obesityAnestheticRisk: true },
      vitals: normalBp,
    });
    expect(result.outcome).toBe('contraindicated');
    expect(result.findings.map((f) => f.code)).toEqual(['ketamineAllergy', 'obesityAnestheticRisk', 'recurrentCystitis']);
  });
});

describe('the blood-pressure rule', () => {
  it.each([
    [140, 90, 'eligible'],
    [141, 80, 'contraindicated'],
    [130, 91, 'contraindicated'],
    [180, 110, 'contraindicated'],
  ] as const)('%i/%i mmHg gives %s', (systolic, diastolic, outcome) => {
    const result = evaluateScreening({ contraindications: {}, vitals: { systolic, diastolic } });
    expect(result.outcome).toBe(outcome);
    if (outcome !== 'eligible') {
      expect(result.findings).toEqual([
        expect.objectContaining({
          code: 'blood-pressure',
          severity: 'absolute',
          text: expect.stringContaining(`${systolic}/${diastolic}`),
        }),
      ]);
    }
  });

  it('follows a site-configured threshold and severity', () => {
    const rules = makeScreeningRules({ bloodPressure: { systolicAbove: 160, diastolicAbove: 100, severity: 'caution' } });
    expect(evaluateScreening({ contraindications: {}, vitals: { systolic: 150, diastolic: 95 } }, rules).outcome).toBe('eligible');
    const high = evaluateScreening({ contraindications: {}, vitals: { systolic: 165, diastolic: 95 } }, rules);
    expect(high.outcome).toBe('needs-review');
  });

  it('lets a site make a caution absolute without touching the others', () => {
    const rules = makeScreeningRules({ severities: { activeSubstanceUseDisorder: 'absolute' } });
    expect(evaluateScreening({ contraindications: { activeSubstanceUseDisorder: true }, vitals: normalBp }, rules).outcome).toBe(
      'contraindicated',
    );
    expect(evaluateScreening({ contraindications: { recurrentCystitis: true }, vitals: normalBp }, rules).outcome).toBe('needs-review');
  });
});

describe('screeningRulesFromSettings', () => {
  it('applies valid overrides and thresholds', () => {
    const rules = screeningRulesFromSettings({
      systolicAbove: 150,
      diastolicAbove: 95,
      severityOverrides: { recurrentCystitis: 'absolute' },
    });
    expect(rules.severities.recurrentCystitis).toBe('absolute');
    expect(rules.bloodPressure).toMatchObject({ systolicAbove: 150, diastolicAbove: 95 });
  });

  it('refuses an unknown key or severity', () => {
    expect(() =>
      screeningRulesFromSettings({ systolicAbove: 140, diastolicAbove: 90, severityOverrides: { cystitis: 'absolute' } }),
    ).toThrow(/cystitis/);
    expect(() =>
      screeningRulesFromSettings({ systolicAbove: 140, diastolicAbove: 90, severityOverrides: { recurrentCystitis: 'never' } }),
    ).toThrow(/recurrentCystitis/);
  });
});
