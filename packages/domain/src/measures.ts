import { addDays, clinicDay } from './clinic-time';
import { checkNotBeforeCourse } from './course';
/**
 * Symptom measures over the course (docs/domain.md#5b-safety-and-outcomes): PHQ-9 and GAD-7 totals, their published
 * severity bands, and the PHQ-9 item 9 safety rule. Pure rules; FHIR and storage live elsewhere.
 */

export const INSTRUMENT_NAMES = ['phq9', 'gad7'] as const;
export type InstrumentName = (typeof INSTRUMENT_NAMES)[number];

export const SEVERITY_BANDS = ['minimal', 'mild', 'moderate', 'moderately-severe', 'severe'] as const;
export type SeverityBand = (typeof SEVERITY_BANDS)[number];

export interface BandDef {
  readonly band: SeverityBand;
  /** Inclusive total-score range. */
  readonly min: number;
  readonly max: number;
  readonly label: string;
}

/**
 * PHQ-9 total 0–27 (Kroenke, Spitzer & Williams 2001) and GAD-7 total 0–21 (Spitzer et al.
 * 2006), as docs/domain.md#5b-safety-and-outcomes gives them. GAD-7 has no "moderately severe" band.
 */
export const SEVERITY_BAND_TABLES: Readonly<Record<InstrumentName, readonly BandDef[]>> = {
  phq9: [
    { band: 'minimal', min: 0, max: 4, label: 'Minimal' },
    { band: 'mild', min: 5, max: 9, label: 'Mild' },
    { band: 'moderate', min: 10, max: 14, label: 'Moderate' },
    { band: 'moderately-severe', min: 15, max: 19, label: 'Moderately severe' },
    { band: 'severe', min: 20, max: 27, label: 'Severe' },
  ],
  gad7: [
    { band: 'minimal', min: 0, max: 4, label: 'Minimal' },
    { band: 'mild', min: 5, max: 9, label: 'Mild' },
    { band: 'moderate', min: 10, max: 14, label: 'Moderate' },
    { band: 'severe', min: 15, max: 21, label: 'Severe' },
  ],
};

/** The number of items and the highest total of each instrument. */
export const INSTRUMENT_SHAPE: Readonly<Record<InstrumentName, { readonly items: number; readonly maxTotal: number }>> = {
  phq9: { items: 9, maxTotal: 27 },
  gad7: { items: 7, maxTotal: 21 },
};

/** Each instrument's name and what it measures, as clinicians call them. */
export const INSTRUMENT_LABEL: Readonly<Record<InstrumentName, { readonly name: string; readonly measures: string }>> = {
  phq9: { name: 'PHQ-9', measures: 'depression' },
  gad7: { name: 'GAD-7', measures: 'anxiety' },
};

/**
 * A fall of this many PHQ-9 points or more is the usual threshold for a clinically meaningful change
 * (docs/domain.md#5b-safety-and-outcomes).
 */
export const PHQ9_MEANINGFUL_CHANGE = 5;

/** The total of item scores; refuses a wrong item count or a score outside 0–3 rather than summing nonsense. */
export function instrumentTotal(instrument: InstrumentName, items: readonly number[]): number {
  const shape = INSTRUMENT_SHAPE[instrument];
  if (items.length !== shape.items) throw new Error(`${instrument} needs ${shape.items} item scores, got ${items.length}`);
  for (const score of items) {
    if (!Number.isInteger(score) || score < 0 || score > 3) throw new Error(`${instrument} item scores are 0..3, got ${score}`);
  }
  return items.reduce((sum, score) => sum + score, 0);
}

/** The severity band a total falls in. */
export function severityBand(instrument: InstrumentName, total: number): BandDef {
  const band = SEVERITY_BAND_TABLES[instrument].find((b) => total >= b.min && total <= b.max);
  if (!band) throw new Error(`${instrument} total ${total} is outside 0..${INSTRUMENT_SHAPE[instrument].maxTotal}`);
  return band;
}

/** The PHQ-9 item 9 question, as the instrument words it. */
export const PHQ9_ITEM9_TEXT = 'Thoughts that you would be better off dead, or of hurting yourself in some way';

/** The 1-based position of the self-harm item in the PHQ-9. */
export const PHQ9_SELF_HARM_ITEM = 9;

const FREQUENCY_TEXT = ['not at all', 'on several days', 'on more than half the days', 'nearly every day'] as const;

/**
 * PHQ-9 item 9 answered above 0. It is not a contraindication by itself, so it is a caution
 * (the screening needs review), and it always raises a safety alert to the care team: the
 * PHQ-9's own instructions ask for further assessment of any positive item 9 (docs/domain.md#5b-safety-and-outcomes).
 * Unlike the rule table, nothing a site configures can turn this off or change its severity.
 */
export interface SelfHarmFinding {
  readonly code: 'phq9-self-harm';
  readonly severity: 'caution';
  readonly text: string;
  /** The item 9 score, 1–3. */
  readonly score: number;
}

/** The self-harm finding of a PHQ-9, or undefined when item 9 is 0 or no PHQ-9 was given. */
export function phq9SelfHarmFinding(phq9: readonly number[] | undefined): SelfHarmFinding | undefined {
  const score = phq9?.[PHQ9_SELF_HARM_ITEM - 1];
  if (score === undefined || score <= 0) return undefined;
  const frequency = FREQUENCY_TEXT[score] ?? `score ${score}`;
  return {
    code: 'phq9-self-harm',
    severity: 'caution',
    score,
    text: `PHQ-9 item 9 positive (score ${score}, ${frequency}): thoughts of being better off dead or of self-harm; assess suicide risk now`,
  };
}

/** When a measure after the screening was taken (docs/api.md#measures-and-outcomes). */
export const MEASURE_TIMEPOINTS = ['after-session-1', 'after-session-2', 'end-of-course', 'follow-up'] as const;
export type MeasureTimepoint = (typeof MEASURE_TIMEPOINTS)[number];

export const TIMEPOINT_TEXT: Readonly<Record<MeasureTimepoint | 'baseline', string>> = {
  baseline: 'Baseline (screening)',
  'after-session-1': 'After session 1',
  'after-session-2': 'After session 2',
  'end-of-course': 'End of course',
  'follow-up': 'Follow-up',
};

/**
 * The course activity whose outcome a measure records: the dosing session it follows, or
 * integration for the end of the course, a follow-up, or a measure without a timepoint.
 */
export function activityOfTimepoint(timepoint: MeasureTimepoint | undefined): 'dosing-session-1' | 'dosing-session-2' | 'integration' {
  if (timepoint === 'after-session-1') return 'dosing-session-1';
  if (timepoint === 'after-session-2') return 'dosing-session-2';
  return 'integration';
}

/** How long after a course stopped measures are still taken (docs/api.md#measures-and-outcomes: 409 after 90 days). */
export const MEASURES_AFTER_STOP_DAYS = 90;

export interface MeasureTiming {
  /** The course's first day, `YYYY-MM-DD` on the clinic's calendar. */
  readonly startDate: string;
  readonly stoppedAt?: string | null;
  readonly measuredAt: string;
  readonly now: Date;
  /** The clinic's IANA time zone: whose calendar "day" means. */
  readonly timeZone: string;
}

/**
 * A measure belongs to a course that has started (its first day has come, and the measure
 * is not from before it) and that stopped no more than 90 days ago (docs/api.md#measures-and-outcomes); days
 * are the clinic's calendar days.
 */
export function checkMeasure(
  t: MeasureTiming,
): { readonly code: 'course-not-started' | 'course-stopped'; readonly text: string } | undefined {
  const today = clinicDay(t.now, t.timeZone);
  if (t.startDate > today)
    return { code: 'course-not-started', text: `The course starts on ${t.startDate}; measures come after its start` };
  const early = checkNotBeforeCourse(t.startDate, t.measuredAt, t.timeZone, 'measuredAt');
  if (early) return { code: 'course-not-started', text: `${early.text}; the screening is the baseline` };
  if (t.stoppedAt) {
    const lastDay = addDays(clinicDay(t.stoppedAt, t.timeZone), MEASURES_AFTER_STOP_DAYS);
    if (today > lastDay) {
      return {
        code: 'course-stopped',
        text: `The course stopped more than ${MEASURES_AFTER_STOP_DAYS} days ago (${t.stoppedAt}); no more measures are recorded`,
      };
    }
  }
  return undefined;
}
