/**
 * What the course note says, as plain data: read from the stored course by the worker, and
 * rendered (HTML, PDF) and wrapped in a DocumentReference by the pure builders here. Every
 * instant is an ISO 8601 string; the renderers show it in the time zone they are given.
 * Strings may be patient- or clinician-entered: the renderers treat them as text only.
 */
export interface CourseNoteModel {
  readonly courseId: string;
  readonly patient: {
    /** The adapter's Patient id (the note's subject). */
    readonly id: string;
    readonly name: string | null;
    readonly birthDate: string | null;
    /** The hospital identifier (MRN), as `value`. */
    readonly identifier: string | null;
  };
  /** The course's start, and its stop when stopped: the note's `context.period`. */
  readonly period: { readonly start: string; readonly end?: string };
  /**
   * When what the note summarises last changed: the document's date and the PDF's creation
   * date, so the same course always renders to the same bytes.
   */
  readonly asOf: string;
  readonly screening: {
    readonly performedAt: string;
    readonly outcome: string;
    readonly reasons: readonly { readonly code: string; readonly severity: string; readonly text: string }[];
    readonly review: { readonly decision: string; readonly reviewer: string; readonly note?: string; readonly at: string } | null;
  } | null;
  readonly safetyAlerts: readonly { readonly text: string; readonly raisedAt: string; readonly active: boolean }[];
  readonly sessions: readonly {
    readonly sessionNumber: number;
    readonly start: string;
    readonly end: string;
    readonly doseLevel: string;
    readonly dose: { readonly value: number; readonly unit: string } | null;
    readonly route: string | null;
    /** What was raised during the session (e.g. the blood-pressure alert's text). */
    readonly alerts: readonly string[];
  }[];
  /** PHQ-9 and GAD-7 totals in time order, the screening's (baseline) first when measured. */
  readonly measures: readonly {
    readonly label: string;
    readonly measuredAt: string;
    readonly baseline: boolean;
    readonly phq9: { readonly total: number; readonly severity: string } | null;
    readonly gad7: { readonly total: number; readonly severity: string } | null;
    /** PHQ-9 item 9 was answered above zero. */
    readonly selfHarm: boolean;
  }[];
  readonly goalsOfCare: readonly {
    readonly discussedAt: string;
    readonly participants: readonly string[];
    readonly goals: readonly { readonly description: string; readonly priority: string | null }[];
    readonly preferences: readonly { readonly label: string; readonly value: string }[];
    readonly notes: readonly string[];
  }[];
  readonly followUps: readonly {
    readonly sessionNumber: number;
    readonly sequence: number;
    readonly dueBy: string;
    readonly status: string;
    readonly completedAt: string | null;
    readonly note: string | null;
  }[];
  readonly stop: { readonly reason: string; readonly at: string } | null;
}

/** One row of the trajectory table: a total with its change since the baseline. */
export interface TrajectoryRow {
  readonly label: string;
  readonly measuredAt: string;
  readonly phq9: string;
  readonly phq9Change: string;
  readonly gad7: string;
  readonly gad7Change: string;
  readonly selfHarm: boolean;
}

const signed = (n: number): string => (n > 0 ? `+${n}` : n < 0 ? `\u2212${-n}` : '0');

/**
 * The PHQ-9/GAD-7 table both renderers show: each total with its band, and its change since
 * the baseline (the screening's total) where both exist; `—` where not measured.
 */
export function trajectoryRows(model: CourseNoteModel): TrajectoryRow[] {
  const base = model.measures.find((m) => m.baseline);
  return model.measures.map((m) => {
    const cell = (v: { total: number; severity: string } | null): string => (v ? `${v.total} (${v.severity})` : '\u2014');
    const change = (v: { total: number } | null, b: { total: number } | null | undefined): string =>
      m.baseline ? 'baseline' : v && b ? signed(v.total - b.total) : '\u2014';
    return {
      label: m.label,
      measuredAt: m.measuredAt,
      phq9: cell(m.phq9),
      phq9Change: change(m.phq9, base?.phq9),
      gad7: cell(m.gad7),
      gad7Change: change(m.gad7, base?.gad7),
      selfHarm: m.selfHarm,
    };
  });
}

/**
 * An instant as `YYYY-MM-DD HH:mm` in `timeZone` (an IANA name): the note names its zone
 * once, so each time reads the same way on the ward and in the chart.
 */
export function formatInstant(iso: string, timeZone: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(date);
  const part = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? '';
  return `${part('year')}-${part('month')}-${part('day')} ${part('hour')}:${part('minute')}`;
}

/** A date-only value (birth date) is shown as given; an instant in the zone. */
export const formatDate = (value: string, timeZone: string): string =>
  /^\d{4}-\d{2}-\d{2}$/.test(value) ? value : formatInstant(value, timeZone);

/** The words the note uses for codes, so HTML and PDF say the same thing. */
export const NOTE_TEXT = {
  title: 'Ketamine-assisted psychotherapy course note',
  outcome: (outcome: string): string => outcome.replace(/-/g, ' '),
  stopReason: (reason: string): string => reason.replace(/-/g, ' '),
  status: (model: CourseNoteModel): string => (model.stop ? `stopped (${model.stop.reason})` : 'ongoing'),
} as const;
