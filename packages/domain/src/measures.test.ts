import { evaluateScreening, screeningRulesFromSettings, makeScreeningRules } from './screening-rules';
import { CONTRAINDICATION_KEYS } from './contraindications';
import { activityOfTimepoint, checkMeasure, instrumentTotal, phq9SelfHarmFinding, SEVERITY_BAND_TABLES, severityBand } from './measures';

const normalBp = { systolic: 120, diastolic: 78 };
const phq9 = (item9: number, others = 0): number[] => [others, others, others, others, others, others, others, others, item9];

describe('severity bands', () => {
  it.each([
    [0, 'minimal'],
    [4, 'minimal'],
    [5, 'mild'],
    [9, 'mild'],
    [10, 'moderate'],
    [14, 'moderate'],
    [15, 'moderately-severe'],
    [19, 'moderately-severe'],
    [20, 'severe'],
    [27, 'severe'],
  ])('PHQ-9 total %i is %s (Kroenke et al. 2001)', (total, band) => {
    expect(severityBand('phq9', total).band).toBe(band);
  });

  it.each([
    [0, 'minimal'],
    [4, 'minimal'],
    [5, 'mild'],
    [9, 'mild'],
    [10, 'moderate'],
    [14, 'moderate'],
    [15, 'severe'],
    [21, 'severe'],
  ])('GAD-7 total %i is %s (Spitzer et al. 2006)', (total, band) => {
    expect(severityBand('gad7', total).band).toBe(band);
  });

  it('covers every total exactly once, without gaps', () => {
    for (const [instrument, max] of [
      ['phq9', 27],
      ['gad7', 21],
    ] as const) {
      const bands = SEVERITY_BAND_TABLES[instrument];
      expect(bands[0]?.min).toBe(0);
      expect(bands[bands.length - 1]?.max).toBe(max);
      bands.slice(1).forEach((b, i) => expect(b.min).toBe((bands[i]?.max ?? NaN) + 1));
    }
  });

  it('refuses totals outside the instrument', () => {
    expect(() => severityBand('phq9', 28)).toThrow(/outside/);
    expect(() => severityBand('gad7', 22)).toThrow(/outside/);
    expect(() => severityBand('gad7', -1)).toThrow(/outside/);
  });

  it('sums item scores and refuses a wrong count or score', () => {
    expect(instrumentTotal('phq9', [3, 3, 3, 3, 3, 3, 3, 3, 3])).toBe(27);
    expect(instrumentTotal('gad7', [1, 2, 0, 1, 0, 0, 1])).toBe(5);
    expect(() => instrumentTotal('gad7', [1, 2, 0])).toThrow(/7 item scores/);
    expect(() => instrumentTotal('gad7', [1, 2, 0, 1, 0, 0, 4])).toThrow(/0\.\.3/);
  });
});

describe('phq9-self-harm', () => {
  it('is nothing when item 9 is 0 or there is no PHQ-9', () => {
    expect(phq9SelfHarmFinding(phq9(0, 3))).toBeUndefined();
    expect(phq9SelfHarmFinding(undefined)).toBeUndefined();
  });

  it.each([1, 2, 3])('item 9 = %i is a caution finding that says how often', (score) => {
    const finding = phq9SelfHarmFinding(phq9(score));
    expect(finding).toMatchObject({ code: 'phq9-self-harm', severity: 'caution', score });
    expect(finding?.text).toMatch(/item 9/);
  });

  it('makes an otherwise eligible screening needs-review, with its reason', () => {
    const result = evaluateScreening({ contraindications: {}, vitals: normalBp, measures: { phq9: phq9(1) } });
    expect(result.outcome).toBe('needs-review');
    expect(result.findings).toEqual([expect.objectContaining({ code: 'phq9-self-harm', severity: 'caution' })]);
  });

  it('keeps its reason next to an absolute contraindication', () => {
    const result = evaluateScreening({ contraindications: { activePsychosis: true }, vitals: normalBp, measures: { phq9: phq9(2) } });
    expect(result.outcome).toBe('contraindicated');
    expect(result.findings.map((f) => f.code)).toEqual(['activePsychosis', 'phq9-self-harm']);
  });

  it('cannot be switched off by a site: every other rule relaxed still leaves it', () => {
    const relaxed = makeScreeningRules({
      severities: Object.fromEntries(CONTRAINDICATION_KEYS.map((k) => [k, 'caution'])),
      bloodPressure: { systolicAbove: 300, diastolicAbove: 300 },
    });
    expect(evaluateScreening({ contraindications: {}, vitals: normalBp, measures: { phq9: phq9(1) } }, relaxed).outcome).toBe(
      'needs-review',
    );
    expect(() =>
      screeningRulesFromSettings({ systolicAbove: 140, diastolicAbove: 90, severityOverrides: { 'phq9-self-harm': 'caution' } }),
    ).toThrow(/cannot be overridden/);
  });
});

describe('checkMeasure', () => {
  const now = new Date('2026-04-01T12:00:00Z');
  const timeZone = 'UTC';
  it('allows a measure during an active course', () => {
    expect(checkMeasure({ startDate: '2026-03-02', measuredAt: '2026-03-10T10:00:00+01:00', now, timeZone })).toBeUndefined();
  });
  it('refuses before the course started, or dated before its first day in the clinic', () => {
    expect(checkMeasure({ startDate: '2026-04-05', measuredAt: '2026-04-01T10:00:00Z', now, timeZone })?.code).toBe('course-not-started');
    // 23:00 in New York is 04:00 the next day in UTC: the clinic's zone decides, not the offset written.
    const lateEvening = '2026-03-01T23:00:00-05:00';
    expect(checkMeasure({ startDate: '2026-03-02', measuredAt: lateEvening, now, timeZone: 'America/New_York' })?.text).toMatch(
      /measuredAt is before the course started: .* is 2026-03-01 in the clinic's time zone \(America\/New_York\)/,
    );
    expect(checkMeasure({ startDate: '2026-03-02', measuredAt: lateEvening, now, timeZone: 'UTC' })).toBeUndefined();
  });
  it('allows up to 90 clinic days after the course stopped, not after', () => {
    expect(
      checkMeasure({ startDate: '2026-01-01', stoppedAt: '2026-01-01T11:59:00Z', measuredAt: '2026-04-01T10:00:00Z', now, timeZone }),
    ).toBeUndefined();
    expect(
      checkMeasure({ startDate: '2025-12-31', stoppedAt: '2025-12-31T23:59:00Z', measuredAt: '2026-04-01T10:00:00Z', now, timeZone })?.code,
    ).toBe('course-stopped');
    // Stopped at 20:00 on 31 December in Los Angeles: its 90th day is 31 March there, so 1 April is past it.
    expect(
      checkMeasure({
        startDate: '2025-12-31',
        stoppedAt: '2026-01-01T04:00:00Z',
        measuredAt: '2026-04-01T10:00:00Z',
        now,
        timeZone: 'America/Los_Angeles',
      })?.code,
    ).toBe('course-stopped');
  });
});

describe('activityOfTimepoint', () => {
  it('links a measure to the session it follows, else to integration', () => {
    expect(activityOfTimepoint('after-session-1')).toBe('dosing-session-1');
    expect(activityOfTimepoint('after-session-2')).toBe('dosing-session-2');
    expect(activityOfTimepoint('end-of-course')).toBe('integration');
    expect(activityOfTimepoint(undefined)).toBe('integration');
  });
});
