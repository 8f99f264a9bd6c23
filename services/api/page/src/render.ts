import {
  COURSE_PHASE_LABEL,
  DOSE_LEVEL_LABEL,
  INSTRUMENT_LABEL,
  INSTRUMENT_SHAPE,
  PHQ9_MEANINGFUL_CHANGE,
  SCREENING_OUTCOME_LABEL,
  SEVERITY_BAND_TABLES,
  STOP_REASON_LABEL,
  TIMEPOINT_TEXT,
  type BandDef,
  type InstrumentName,
} from '@kap/domain';
import { badge, el } from './dom';
import { capitalised, signed, type ClinicFormat } from './format';
import type { AlertLoop, CourseAlert, CourseDetail, Outcomes, SessionDetail } from './types';

/**
 * The course page as pure functions: course data in, DOM nodes and chart descriptions out.
 * Nothing here fetches, reads the page or draws; app.ts puts the nodes in place and the
 * charts are drawn from the descriptions (charts.ts).
 */

export const INSTRUMENTS: readonly InstrumentName[] = ['phq9', 'gad7'];

/** What a score chart draws: the totals over the course, over the instrument's severity bands. */
export interface ScoreChart {
  readonly kind: 'score';
  readonly canvas: HTMLCanvasElement;
  readonly instrument: InstrumentName;
  readonly labels: string[][];
  readonly totals: number[];
  readonly bands: readonly BandDef[];
  readonly max: number;
}

/** What a session's vitals chart draws: blood pressure and heart rate, with the alert threshold. */
export interface VitalsChart {
  readonly kind: 'vitals';
  readonly canvas: HTMLCanvasElement;
  readonly labels: string[];
  readonly systolic: (number | null)[];
  readonly diastolic: (number | null)[];
  readonly heartRate: (number | null)[];
  readonly above: boolean[];
  readonly threshold: CourseDetail['alertThreshold'];
}

export type ChartSpec = ScoreChart | VitalsChart;

/** Acknowledges an alert loop; rejects with the reason to show when it did not. */
export type Acknowledge = (alertId: string, body: { by: string; note?: string }) => Promise<void>;

const ALERT_TITLE: Readonly<Record<string, string>> = {
  'phq9-self-harm': 'Self-harm risk: PHQ-9 item 9 positive',
  'blood-pressure-alert': 'Blood pressure above the alert threshold during a session',
};

function label<K extends string>(table: Readonly<Record<K, string>>, key: string | null | undefined): string | undefined {
  return key != null && Object.prototype.hasOwnProperty.call(table, key) ? table[key as K] : undefined;
}

export function bandLabel(instrument: InstrumentName, band: string): string {
  return SEVERITY_BAND_TABLES[instrument].find((b) => b.band === band)?.label ?? band;
}

/** `better` for a clinically meaningful PHQ-9 fall, `worse` for any rise. */
export function changeClass(instrument: InstrumentName, change: number | null): string {
  if (change === null) return '';
  if (instrument === 'phq9' && change <= -PHQ9_MEANINGFUL_CHANGE) return 'better';
  if (change > 0) return 'worse';
  return '';
}

export function changeText(instrument: InstrumentName, change: number | null): string {
  if (change === null) return '';
  const meaningful = instrument === 'phq9' && change <= -PHQ9_MEANINGFUL_CHANGE;
  return `${signed(change)} since baseline${meaningful ? ' (clinically meaningful fall)' : ''}`;
}

export function courseStatusText(course: CourseDetail): string {
  if (course.status === 'stopped') return label(STOP_REASON_LABEL, course.stoppedReason) ?? 'Stopped';
  return `Active · ${label(COURSE_PHASE_LABEL, course.phase) ?? course.phase}`;
}

export function renderHeader(course: CourseDetail, fmt: ClinicFormat): { title: string; subtitle: string } {
  const p = course.patient;
  return {
    title: `${p?.name || 'Patient'} · KAP course`,
    subtitle: [
      p?.identifier ? `Hospital ID ${p.identifier}` : '',
      p?.birthDate ? `born ${fmt.day(p.birthDate)}` : '',
      `course ${course.courseId}`,
    ]
      .filter(Boolean)
      .join(' · '),
  };
}

// ---- safety alerts first ---------------------------------------------------------------

export function renderAlerts(course: CourseDetail, fmt: ClinicFormat, acknowledge: Acknowledge): { nodes: HTMLElement[]; safety: boolean } {
  const alerts = course.alerts;
  if (alerts.length === 0) return { nodes: [el('p', { className: 'calm', text: 'No active safety alerts.' })], safety: false };
  const list = el(
    'ul',
    { className: 'alert-list' },
    alerts.map((a) => alertItem(a, fmt, acknowledge)),
  );
  return { nodes: [list], safety: alerts.some((a) => a.code === 'phq9-self-harm') };
}

function alertItem(a: CourseAlert, fmt: ClinicFormat, acknowledge: Acknowledge): HTMLLIElement {
  const loop = a.alert;
  return el(
    'li',
    {
      className: `alert-item ${a.code === 'phq9-self-harm' ? 'alert-safety' : 'alert-clinical'}`,
      'data-alert-status': loop ? loop.status : 'unknown',
    },
    [
      el('strong', { text: label(ALERT_TITLE, a.code) ?? 'Alert' }),
      el('span', { className: 'alert-when', text: fmt.whenNamed(a.at) }),
      el('p', { text: a.text }),
      loop && alertState(loop, fmt),
      loop?.status === 'open' && ackForm(loop, acknowledge),
    ],
  );
}

export function alertState(loop: AlertLoop, fmt: ClinicFormat): HTMLParagraphElement {
  if (loop.status === 'open') {
    const escalated =
      loop.escalations === 0 ? 'Not escalated yet' : `Escalated ${loop.escalations}${loop.escalations === 1 ? ' time' : ' times'}`;
    const next = loop.nextEscalationAt ? `; escalates next at ${fmt.whenNamed(loop.nextEscalationAt)} unless acknowledged.` : '.';
    return el('p', { className: 'alert-state' }, [badge('Open: not acknowledged', 'escalated'), ` ${escalated}${next}`]);
  }
  const resolved = loop.status === 'resolved';
  const after = loop.escalations ? ` (after ${loop.escalations} escalation${loop.escalations === 1 ? '' : 's'})` : '';
  return el('p', { className: 'alert-state' }, [
    badge(resolved ? 'Resolved' : 'Acknowledged', 'completed'),
    ` by ${(resolved ? loop.resolvedBy : loop.acknowledgedBy) ?? 'someone'} at ${fmt.whenNamed(resolved ? loop.resolvedAt : loop.acknowledgedAt)}${after}.`,
  ]);
}

function ackForm(loop: AlertLoop, acknowledge: Acknowledge): HTMLFormElement {
  const id = `ack-${loop.id}`;
  const by = el('input', { id: `${id}-by`, name: 'by', type: 'text', autocomplete: 'name', required: 'required', maxlength: '200' });
  const note = el('input', { id: `${id}-note`, name: 'note', type: 'text', maxlength: '2000' });
  const error = el('p', { className: 'error', role: 'alert' });
  const button = el('button', { type: 'submit', text: 'Acknowledge' });
  const form = el('form', { className: 'ack', 'aria-label': 'Acknowledge this alert' }, [
    el('label', { for: `${id}-by`, text: 'Acknowledged by' }),
    by,
    el('label', { for: `${id}-note`, text: 'Note (optional)' }),
    note,
    button,
    error,
  ]);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body: { by: string; note?: string } = { by: by.value.trim() };
    if (note.value.trim()) body.note = note.value.trim();
    button.disabled = true;
    error.textContent = '';
    acknowledge(loop.id, body).catch((err: unknown) => {
      button.disabled = false;
      error.textContent = `Not acknowledged: ${err instanceof Error ? err.message : String(err)}`;
    });
  });
  return form;
}

// ---- summary ---------------------------------------------------------------------------

export function renderSummary(course: CourseDetail, outcomes: Outcomes, fmt: ClinicFormat): HTMLDivElement[] {
  const rows: HTMLDivElement[] = [];
  const row = (term: string, value: string, cls = ''): void => {
    rows.push(el('div', { className: 'pair' }, [el('dt', { text: term }), el('dd', { text: value, className: cls })]));
  };
  const next = course.followUps.filter((f) => f.status === 'scheduled').sort((a, b) => Date.parse(a.dueBy) - Date.parse(b.dueBy))[0];
  row('Status', courseStatusText(course));
  row('Started', fmt.day(course.startDate));
  row('Times shown in', `${fmt.zone} (the clinic's time zone)`);
  if (course.stoppedAt) row('Stopped', fmt.when(course.stoppedAt));
  if (course.screening) row('Screening', label(SCREENING_OUTCOME_LABEL, course.screening.outcome) ?? course.screening.outcome);
  for (const k of INSTRUMENTS) {
    const last = outcomes[k].at(-1);
    if (!last) {
      row(INSTRUMENT_LABEL[k].name, 'Not measured');
      continue;
    }
    const change = outcomes.change[k];
    const text = `${last.total} (${bandLabel(k, last.severity)})${change !== null ? `, ${signed(change)} since baseline` : ''}`;
    row(`${INSTRUMENT_LABEL[k].name} now`, text, changeClass(k, change));
  }
  row('Next follow-up', next ? `Due ${fmt.when(next.dueBy)}` : 'None scheduled');
  const ehr = ehrText(course.sync);
  if (ehr) row('In the hospital EHR', ehr.text, ehr.cls);
  return rows;
}

/** Where the course's records stand with the EHR, the most urgent first. */
export function ehrText(sync: CourseDetail['sync']): { text: string; cls: string } | null {
  if (sync.length === 0) return null;
  const n: Partial<Record<CourseDetail['sync'][number]['status'], number>> = {};
  for (const s of sync) n[s.status] = (n[s.status] ?? 0) + 1;
  const parts: string[] = [];
  if (n['waiting-for-patient'])
    parts.push(
      `waiting: the patient is not registered in the EHR yet (${n['waiting-for-patient']} records); they go once the hospital registers them`,
    );
  if (n.failed) parts.push(`${n.failed} refused by the EHR`);
  if (n.synced) parts.push(`${n.synced} in the EHR`);
  if (n.pending) parts.push(`${n.pending} on the way`);
  if (n['not-sent']) parts.push(`${n['not-sent']} kept here (the EHR does not take them)`);
  return { text: parts.join(' · '), cls: n['waiting-for-patient'] || n.failed ? 'worse' : '' };
}

// ---- symptom scores --------------------------------------------------------------------

/** The hint above the score charts, with the domain's threshold. */
export function outcomesHint(): string {
  return `Totals over time against the published severity bands; the screening is the baseline. A fall of ${PHQ9_MEANINGFUL_CHANGE} or more PHQ-9 points is the usual threshold for a clinically meaningful change.`;
}

/** One instrument's figure: caption with its range and change, the chart's canvas, and the same totals as a table. */
export function renderScores(k: InstrumentName, outcomes: Outcomes, fmt: ClinicFormat): { figure: HTMLElement; chart: ScoreChart } {
  const points = outcomes[k];
  const { name, measures } = INSTRUMENT_LABEL[k];
  const max = INSTRUMENT_SHAPE[k].maxTotal;
  const change = outcomes.change[k];
  const text = changeText(k, change);
  const timepoint = (p: Outcomes['phq9'][number]): string | undefined => label(TIMEPOINT_TEXT, p.timepoint);
  const ariaLabel =
    `${name} totals over time: ` +
    (points.map((p) => `${timepoint(p) ?? 'measure'} ${p.total} (${bandLabel(k, p.severity)})`).join('; ') || 'none yet') +
    (text ? `. ${text}.` : '.');
  const canvas = el('canvas', { id: `${k}-chart`, role: 'img', 'aria-describedby': `${k}-table-caption`, 'aria-label': ariaLabel });
  const rows = points.map((p) =>
    el('tr', {}, [
      el('td', { text: fmt.when(p.at) }),
      el('td', { text: timepoint(p) ?? 'Measure' }),
      el('td', { className: 'num', text: String(p.total) }),
      el('td', { text: bandLabel(k, p.severity) }),
    ]),
  );
  if (rows.length === 0) rows.push(el('tr', {}, [el('td', { colspan: '4', text: 'Not measured yet.' })]));
  const figure = el('figure', { className: 'chart', id: `${k}-figure` }, [
    el('figcaption', {}, [
      el('strong', { text: name }),
      ` (${measures}, 0–${max}) `,
      el('span', { id: `${k}-change`, className: `change ${changeClass(k, change)}`, text }),
    ]),
    el('div', { className: 'canvas-box' }, [canvas]),
    el('table', { id: `${k}-table`, className: 'data' }, [
      el('caption', { id: `${k}-table-caption`, text: `${name} totals` }),
      el('thead', {}, [
        el(
          'tr',
          {},
          ['When', 'Timepoint', 'Total', 'Severity'].map((h) => el('th', { scope: 'col', text: h })),
        ),
      ]),
      el('tbody', {}, rows),
    ]),
  ]);
  return {
    figure,
    chart: {
      kind: 'score',
      canvas,
      instrument: k,
      labels: points.map((p) => [timepoint(p) ?? 'Measure', fmt.day(p.at)]),
      totals: points.map((p) => p.total),
      bands: SEVERITY_BAND_TABLES[k],
      max,
    },
  };
}

// ---- timeline --------------------------------------------------------------------------

interface TimelineEvent {
  readonly at: string;
  readonly kind: 'screening' | 'start' | 'session' | 'measure' | 'follow-up' | 'goals' | 'stop';
  readonly title: string;
  readonly body: readonly HTMLElement[];
  readonly dateOnly?: boolean;
}

function vitalsBlock(
  s: SessionDetail,
  threshold: CourseDetail['alertThreshold'],
  fmt: ClinicFormat,
): { node: HTMLElement; chart?: VitalsChart } {
  const wrap = el('div', { className: 'vitals' });
  if (s.vitals.length === 0) return { node: wrap };
  const above = (v: SessionDetail['vitals'][number]): boolean =>
    (v.systolic ?? 0) > threshold.systolicAbove || (v.diastolic ?? 0) > threshold.diastolicAbove;
  const bp = (v: SessionDetail['vitals'][number]): string => `${v.systolic ?? '–'}/${v.diastolic ?? '–'}`;
  const limit = `${threshold.systolicAbove}/${threshold.diastolicAbove} mmHg`;
  const canvas = el('canvas', {
    id: `vitals-chart-${s.sessionNumber}`,
    role: 'img',
    'aria-label':
      `Session ${s.sessionNumber} blood pressure and heart rate over time, alert threshold ${limit}: ` +
      s.vitals
        .map(
          (v) => `${fmt.clock(v.at)} ${bp(v)}${v.heartRate !== undefined ? ` HR ${v.heartRate}` : ''}${above(v) ? ' above threshold' : ''}`,
        )
        .join('; '),
  });
  wrap.appendChild(el('div', { className: 'canvas-box small' }, [canvas]));
  const table = el('table', { className: 'data' }, [
    el('caption', { text: `Session ${s.sessionNumber} vital signs (alert above ${limit})` }),
    el('thead', {}, [
      el(
        'tr',
        {},
        ['Time', 'Blood pressure (mmHg)', 'Heart rate (/min)', 'SpO₂ (%)', ''].map((h) => el('th', { scope: 'col', text: h })),
      ),
    ]),
    el(
      'tbody',
      {},
      s.vitals.map((v) =>
        el('tr', { className: above(v) ? 'over' : '' }, [
          el('td', { text: fmt.clock(v.at) }),
          el('td', { className: 'num', text: bp(v) }),
          el('td', { className: 'num', text: v.heartRate !== undefined ? String(v.heartRate) : '–' }),
          el('td', { className: 'num', text: v.spo2 !== undefined ? String(v.spo2) : '–' }),
          el('td', { text: above(v) ? 'Above threshold' : '' }),
        ]),
      ),
    ),
  ]);
  wrap.appendChild(el('details', {}, [el('summary', { text: 'Vital signs as a table' }), table]));
  return {
    node: wrap,
    chart: {
      kind: 'vitals',
      canvas,
      labels: s.vitals.map((v) => fmt.clock(v.at)),
      systolic: s.vitals.map((v) => v.systolic ?? null),
      diastolic: s.vitals.map((v) => v.diastolic ?? null),
      heartRate: s.vitals.map((v) => v.heartRate ?? null),
      above: s.vitals.map(above),
      threshold,
    },
  };
}

/** Everything that happened in the course, in time order; `now` decides which follow-ups are overdue. */
export function renderTimeline(course: CourseDetail, fmt: ClinicFormat, now: number): { items: HTMLLIElement[]; charts: VitalsChart[] } {
  const events: TimelineEvent[] = [];
  const charts: VitalsChart[] = [];
  const sc = course.screening;
  if (sc) {
    const reasons = sc.reasons.map((r) =>
      el('li', { className: r.code === 'phq9-self-harm' ? 'reason safety' : 'reason' }, [
        badge(r.severity === 'absolute' ? 'Absolute' : 'Caution', r.severity),
        ` ${r.text}`,
      ]),
    );
    const body: HTMLElement[] = [el('p', {}, ['Outcome: ', badge(label(SCREENING_OUTCOME_LABEL, sc.outcome) ?? sc.outcome, sc.outcome)])];
    body.push(reasons.length ? el('ul', { className: 'reasons' }, reasons) : el('p', { text: 'No contraindication or caution found.' }));
    if (sc.review)
      body.push(
        el('p', {
          text: `Clinician review: ${sc.review.decision} by ${sc.review.reviewer}${sc.review.note ? ` — ${sc.review.note}` : ''}`,
        }),
      );
    events.push({ at: sc.performedAt, kind: 'screening', title: 'Screening', body });
  }
  events.push({
    at: course.startsAt,
    kind: 'start',
    title: 'Course started · preparation',
    dateOnly: true,
    body: [el('p', { text: 'Preparatory psychotherapy: alliance, intention setting, set and setting, education.' })],
  });
  for (const s of course.sessionDetails) {
    const dose = s.dose ? ` · ${s.dose.value} ${s.dose.unit}` : '';
    const minutes = Math.round((Date.parse(s.end) - Date.parse(s.start)) / 60000);
    const head = el('p', {}, [
      badge(label(DOSE_LEVEL_LABEL, s.doseLevel) ?? capitalised(`${s.doseLevel} dose`), 'dose'),
      ` ${s.route ?? ''}${dose} · ${fmt.clock(s.start)}–${fmt.clock(s.end)} (${minutes} min)`,
      s.alert && ' ',
      s.alert && badge('Blood pressure alert', 'escalated'),
    ]);
    const vitals = vitalsBlock(s, course.alertThreshold, fmt);
    if (vitals.chart) charts.push(vitals.chart);
    events.push({ at: s.start, kind: 'session', title: `Dosing session ${s.sessionNumber}`, body: [head, vitals.node] });
  }
  for (const m of course.measures) {
    const parts: string[] = [];
    if (m.phq9Total !== null) parts.push(`${INSTRUMENT_LABEL.phq9.name} ${m.phq9Total}`);
    if (m.gad7Total !== null) parts.push(`${INSTRUMENT_LABEL.gad7.name} ${m.gad7Total}`);
    const body: HTMLElement[] = [el('p', { text: parts.join(' · ') })];
    if (m.selfHarm) body.push(el('p', {}, [badge('PHQ-9 item 9 positive: safety alert sent', 'escalated')]));
    events.push({ at: m.measuredAt, kind: 'measure', title: `Measures · ${m.timepointText || 'Measure'}`, body });
  }
  for (const f of course.followUps) {
    const overdue = f.status === 'scheduled' && Date.parse(f.dueBy) < now;
    const body = [
      el('p', {}, [
        badge(capitalised(overdue ? 'overdue' : f.status), overdue ? 'escalated' : f.status),
        ` due by ${fmt.when(f.dueBy)}${f.completedAt ? ` · done ${fmt.when(f.completedAt)}` : ''}`,
      ]),
    ];
    events.push({ at: f.dueBy, kind: 'follow-up', title: `Integration follow-up ${f.sequence} after session ${f.sessionNumber}`, body });
  }
  for (const g of course.goalsOfCareDiscussions) {
    events.push({
      at: g.discussedAt,
      kind: 'goals',
      title: 'Goals-of-care discussion',
      body: [el('p', { text: `${course.goals.length} goal(s) added to the care plan; see Goals of care below.` })],
    });
  }
  if (course.stoppedAt) {
    events.push({
      at: course.stoppedAt,
      kind: 'stop',
      title: label(STOP_REASON_LABEL, course.stoppedReason) ?? 'Course stopped',
      body: [el('p', { text: 'Pending follow-ups were cancelled.' })],
    });
  }
  // Stable: events at the same instant keep the order above (screening before start, and so on).
  events.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const items = events.map((e) =>
    el('li', { className: `event ev-${e.kind}`, 'data-kind': e.kind }, [
      el('div', { className: 'event-when' }, [
        el('time', { datetime: e.at, text: e.dateOnly ? fmt.day(course.startDate) : fmt.when(e.at) }),
      ]),
      el('div', { className: 'event-body' }, [el('h3', { text: e.title }), ...e.body]),
    ]),
  );
  return { items, charts };
}

// ---- goals of care ---------------------------------------------------------------------

export function renderGoals(course: CourseDetail, fmt: ClinicFormat): HTMLElement[] {
  const discussions = course.goalsOfCareDiscussions;
  if (discussions.length === 0) return [el('p', { className: 'calm', text: 'No goals-of-care discussion recorded yet.' })];
  return discussions.flatMap((d) => {
    const nodes: HTMLElement[] = [
      el('h3', { text: `Discussed ${fmt.when(d.discussedAt)}${d.participants.length ? ` with ${d.participants.join(', ')}` : ''}` }),
      el(
        'ul',
        { className: 'goals' },
        d.goals.map((g) => el('li', {}, [g.description, g.priority && ' ', g.priority && badge(g.priority, 'dose')])),
      ),
    ];
    if (d.preferences.length) {
      nodes.push(
        el(
          'dl',
          { className: 'summary prefs' },
          d.preferences.map((p) => el('div', { className: 'pair' }, [el('dt', { text: p.label }), el('dd', { text: p.value })])),
        ),
      );
    }
    if (d.notes.length)
      nodes.push(
        el(
          'ul',
          { className: 'notes' },
          d.notes.map((n) => el('li', { text: n })),
        ),
      );
    return nodes;
  });
}
