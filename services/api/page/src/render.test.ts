/**
 * @jest-environment jsdom
 */
import {
  COURSE_PHASE_LABEL,
  INSTRUMENT_SHAPE,
  PHQ9_MEANINGFUL_CHANGE,
  SCREENING_OUTCOME_LABEL,
  SEVERITY_BAND_TABLES,
  STOP_REASON_LABEL,
} from '@kap/domain';
import { courseFixture } from './fixtures/course';
import { clinicFormat, signed } from './format';
import {
  changeClass,
  ehrText,
  outcomesHint,
  renderAlerts,
  renderGoals,
  renderHeader,
  renderScores,
  renderSummary,
  renderTimeline,
  type Acknowledge,
} from './render';
import type { CourseDetail } from './types';

const ZONE = 'America/Los_Angeles';
const fmt = clinicFormat(ZONE);
const NOW = Date.parse('2026-12-07T06:00:00Z');
const noAck: Acknowledge = () => Promise.reject(new Error('not in this test'));

/** The nodes in a detached container, to query them as the page would. */
function mount(nodes: readonly Node[]): HTMLElement {
  const box = document.createElement('div');
  box.append(...nodes);
  return box;
}
const summaryOf = (course: CourseDetail, outcomes = courseFixture().outcomes): Record<string, { text: string; cls: string }> =>
  Object.fromEntries(
    renderSummary(course, outcomes, fmt).map((row) => [
      row.querySelector('dt')?.textContent,
      { text: row.querySelector('dd')?.textContent ?? '', cls: row.querySelector('dd')?.className ?? '' },
    ]),
  );

describe('labels and limits come from @kap/domain', () => {
  it('states a stopped course by its reason, an active one by its phase, and the screening outcome', () => {
    const { course } = courseFixture();
    expect(summaryOf(course).Status?.text).toBe(STOP_REASON_LABEL.completed);
    expect(summaryOf({ ...course, status: 'stopped', stoppedReason: 'deceased' }).Status?.text).toBe('Stopped: the patient died');
    expect(summaryOf({ ...course, status: 'active', phase: 'integration-2', stoppedReason: null }).Status?.text).toBe(
      `Active · ${COURSE_PHASE_LABEL['integration-2']}`,
    );
    expect(summaryOf(course).Screening?.text).toBe(SCREENING_OUTCOME_LABEL.eligible);
    expect(summaryOf({ ...course, screening: { ...course.screening!, outcome: 'needs-review' } }).Screening?.text).toBe(
      'Needs clinician review',
    );
  });

  it('shows a value the page has no label for as it came, rather than nothing', () => {
    const { course } = courseFixture();
    expect(summaryOf({ ...course, status: 'active', phase: 'a-new-phase', stoppedReason: null }).Status?.text).toBe('Active · a-new-phase');
    expect(summaryOf({ ...course, stoppedReason: 'toString' }).Status?.text).toBe('Stopped');
  });

  it('captions each instrument with its range and draws it over its severity bands up to its maximum', () => {
    const { outcomes } = courseFixture();
    const phq9 = renderScores('phq9', outcomes, fmt);
    const gad7 = renderScores('gad7', outcomes, fmt);
    expect(phq9.figure.querySelector('figcaption')?.textContent).toMatch(
      new RegExp(`^PHQ-9 \\(depression, 0–${INSTRUMENT_SHAPE.phq9.maxTotal}\\)`),
    );
    expect(gad7.figure.querySelector('figcaption')?.textContent).toMatch(/^GAD-7 \(anxiety, 0–21\)/);
    expect(phq9.chart).toMatchObject({ max: 27, bands: SEVERITY_BAND_TABLES.phq9 });
    expect(gad7.chart).toMatchObject({ max: 21, bands: SEVERITY_BAND_TABLES.gad7 });
    expect(outcomesHint()).toContain(`A fall of ${PHQ9_MEANINGFUL_CHANGE} or more PHQ-9 points`);
  });

  it('calls a PHQ-9 fall of the domain threshold meaningful, and one point less not', () => {
    expect(changeClass('phq9', -PHQ9_MEANINGFUL_CHANGE)).toBe('better');
    expect(changeClass('phq9', -PHQ9_MEANINGFUL_CHANGE + 1)).toBe('');
    expect(changeClass('gad7', -10)).toBe('');
    expect(changeClass('gad7', 2)).toBe('worse');
    expect(changeClass('phq9', null)).toBe('');
    const { outcomes } = courseFixture();
    const small = renderScores('phq9', { ...outcomes, change: { ...outcomes.change, phq9: -4 } }, fmt);
    expect(small.figure.querySelector('#phq9-change')?.textContent).toBe('−4 since baseline');
  });
});

describe('the recorded course', () => {
  it('heads the page with the patient, and sums it up: latest totals with their band and change, the clinic zone', () => {
    const { course } = courseFixture();
    expect(renderHeader(course, fmt)).toEqual({
      title: 'Test Synthetic · KAP course',
      subtitle: 'Hospital ID SYN-0001 · born 2 Apr 1950 · course id-001',
    });
    const summary = summaryOf(course);
    expect(summary['PHQ-9 now']).toEqual({ text: '6 (Mild), −11 since baseline', cls: 'better' });
    expect(summary['GAD-7 now']).toEqual({ text: '5 (Mild), −9 since baseline', cls: '' });
    expect(summary['Times shown in']?.text).toBe("America/Los_Angeles (the clinic's time zone)");
    expect(summary.Started?.text).toBe('8 Nov 2026');
    expect(summary['Next follow-up']?.text).toBe('None scheduled');
    expect(summary['In the hospital EHR']).toEqual({ text: '1 in the EHR · 2 on the way', cls: '' });
  });

  it('charts exactly the outcome totals, baseline first, and says the same in the table and the text alternative', () => {
    const { outcomes } = courseFixture();
    const phq9 = renderScores('phq9', outcomes, fmt);
    expect(phq9.chart.totals).toEqual([17, 12, 8, 6]);
    expect(renderScores('gad7', outcomes, fmt).chart.totals).toEqual([14, 10, 7, 5]);
    expect(phq9.chart.labels.map((l) => l[0])).toEqual(['Baseline (screening)', 'After session 1', 'After session 2', 'End of course']);
    expect([...phq9.figure.querySelectorAll('tbody td.num')].map((td) => Number(td.textContent))).toEqual([17, 12, 8, 6]);
    expect([...phq9.figure.querySelectorAll('tbody tr')].map((tr) => tr.lastElementChild?.textContent)).toEqual([
      'Moderately severe',
      'Moderate',
      'Mild',
      'Mild',
    ]);
    expect(phq9.chart.canvas.getAttribute('aria-label')).toBe(
      'PHQ-9 totals over time: Baseline (screening) 17 (Moderately severe); After session 1 12 (Moderate); After session 2 8 (Mild); End of course 6 (Mild). −11 since baseline (clinically meaningful fall).',
    );
    expect(phq9.figure.querySelector('#phq9-change')).toMatchObject({
      textContent: '−11 since baseline (clinically meaningful fall)',
      className: 'change better',
    });
  });

  it('puts the timeline in time order, screening first and the stop last, with what each session gave', () => {
    const { course } = courseFixture();
    const { items, charts } = renderTimeline(course, fmt, NOW);
    const kinds = items.map((li) => li.dataset.kind);
    expect(kinds[0]).toBe('screening');
    expect(kinds[1]).toBe('start');
    expect(kinds.at(-1)).toBe('stop');
    expect(kinds.filter((k) => k === 'session')).toHaveLength(2);
    expect(kinds.filter((k) => k === 'measure')).toHaveLength(3);
    expect(kinds.filter((k) => k === 'follow-up')).toHaveLength(6);
    expect(kinds).toContain('goals');
    const times = items.map((li) => Date.parse(li.querySelector('time')?.getAttribute('datetime') ?? ''));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const text = mount(items).textContent ?? '';
    for (const expected of [
      'Intramuscular route · 0.5 mg/kg',
      'Sublingual route · 200 mg',
      'Low dose',
      'Moderate dose',
      'Completed',
      'Cancelled',
      'PHQ-9 8 · GAD-7 7',
      'PHQ-9 item 9 positive: safety alert sent',
      STOP_REASON_LABEL.completed,
    ]) {
      expect(text).toContain(expected);
    }
    expect(items[1]?.querySelector('time')?.textContent).toBe('8 Nov 2026');
    // Session 1's vitals: the reading above the threshold is marked and charted against the threshold line.
    expect(charts).toHaveLength(2);
    expect(charts[0]).toMatchObject({
      systolic: [142, 184, 156, 138],
      diastolic: [86, 104, 92, 84],
      heartRate: [76, 96, 84, 74],
      above: [false, true, false, false],
    });
    expect(charts[0]?.threshold).toEqual({ systolicAbove: 180, diastolicAbove: 110 });
    const session1 = items.find((li) => li.dataset.kind === 'session');
    expect([...(session1?.querySelectorAll('tr.over') ?? [])].map((tr) => tr.children[1]?.textContent)).toEqual(['184/104']);
    expect(session1?.querySelector('canvas')?.getAttribute('aria-label')).toMatch(
      /alert threshold 180\/110 mmHg: .*184\/104 HR 96 above threshold/,
    );
  });

  it('marks a scheduled follow-up past its due time as overdue, and names the next one due', () => {
    const { course } = courseFixture();
    const followUps = [
      { ...course.followUps[0]!, status: 'scheduled' as const, dueBy: '2026-12-06T18:00:00Z', completedAt: null },
      { ...course.followUps[1]!, status: 'scheduled' as const, dueBy: '2026-12-08T18:00:00Z', completedAt: null },
    ];
    const active: CourseDetail = { ...course, status: 'active', phase: 'integration-1', stoppedReason: null, stoppedAt: null, followUps };
    const items = renderTimeline(active, fmt, NOW).items.filter((li) => li.dataset.kind === 'follow-up');
    expect(items.map((li) => li.querySelector('.badge')?.textContent)).toEqual(['Overdue', 'Scheduled']);
    expect(items[0]?.querySelector('.badge')?.className).toBe('badge escalated');
    expect(summaryOf(active)['Next follow-up']?.text).toBe('Due 6 Dec 2026, 10:00');
  });

  it('lists the goals of care with priorities and preferences', () => {
    const { course } = courseFixture();
    const goals = mount(renderGoals(course, fmt));
    expect(goals.querySelector('h3')?.textContent).toBe('Discussed 22 Nov 2026, 20:57 with Patient, Palliative physician, Psychotherapist');
    expect([...goals.querySelectorAll('ul.goals li')].map((li) => li.textContent)).toEqual([
      'Remain at home with symptom control High Priority',
      'Reconnect with estranged brother Medium Priority',
    ]);
    expect(goals.querySelector('dl.prefs')?.textContent).toBe(
      'Preferred place of careHomeCode status preferenceDo not attempt resuscitation',
    );
  });
});

describe('safety alerts', () => {
  it("come with their loop state, the escalation time in the clinic's zone named, and a form only while open", () => {
    const { course } = courseFixture();
    const { nodes, safety } = renderAlerts(course, fmt, noAck);
    expect(safety).toBe(true);
    const items = [...mount(nodes).querySelectorAll('li.alert-item')];
    expect(items.map((li) => li.querySelector('strong')?.textContent)).toEqual([
      'Self-harm risk: PHQ-9 item 9 positive',
      'Blood pressure above the alert threshold during a session',
    ]);
    expect(items[0]?.className).toBe('alert-item alert-safety');
    expect(items[0]?.getAttribute('data-alert-status')).toBe('open');
    // 04:57 UTC on 21 November is 20:57 the day before in Los Angeles.
    expect(items[0]?.querySelector('.alert-when')?.textContent).toBe('20 Nov 2026, 20:57 (America/Los_Angeles)');
    expect(items[0]?.querySelector('.alert-state')?.textContent).toBe(
      'Open: not acknowledged Not escalated yet; escalates next at 6 Dec 2026, 21:27 (America/Los_Angeles) unless acknowledged.',
    );
    expect(items[0]?.querySelector('form label')?.textContent).toBe('Acknowledged by');
  });

  it('say who acknowledged or resolved, after how many escalations, with no form', () => {
    const { course } = courseFixture();
    const loop = course.alerts[0]!.alert!;
    const acknowledged = {
      ...loop,
      status: 'acknowledged' as const,
      acknowledgedBy: 'Dr. A',
      acknowledgedAt: '2026-12-07T05:00:00Z',
      escalations: 1,
      nextEscalationAt: null,
    };
    const resolved = {
      ...loop,
      status: 'resolved' as const,
      resolvedBy: 'Dr. B',
      resolvedAt: '2026-12-07T05:30:00Z',
      escalations: 2,
      nextEscalationAt: null,
    };
    const escalated = { ...loop, escalations: 3 };
    const alerts = [acknowledged, resolved, escalated].map((alert) => ({ ...course.alerts[0]!, alert }));
    const items = [...mount(renderAlerts({ ...course, alerts }, fmt, noAck).nodes).querySelectorAll('li')];
    expect(items.map((li) => li.querySelector('.alert-state')?.textContent)).toEqual([
      'Acknowledged by Dr. A at 6 Dec 2026, 21:00 (America/Los_Angeles) (after 1 escalation).',
      'Resolved by Dr. B at 6 Dec 2026, 21:30 (America/Los_Angeles) (after 2 escalations).',
      'Open: not acknowledged Escalated 3 times; escalates next at 6 Dec 2026, 21:27 (America/Los_Angeles) unless acknowledged.',
    ]);
    expect(items.map((li) => li.querySelectorAll('form').length)).toEqual([0, 0, 1]);
  });

  it('send the acknowledgement with the trimmed name and note, and say why one failed', async () => {
    const { course } = courseFixture();
    const calls: unknown[] = [];
    let answer: Promise<void> = Promise.reject(new Error('This token may not acknowledge alerts.'));
    answer.catch(() => undefined);
    const acknowledge: Acknowledge = (id, body) => {
      calls.push({ id, body });
      return answer;
    };
    const form = mount(renderAlerts(course, fmt, acknowledge).nodes).querySelector('form')!;
    const [by, note] = [...form.querySelectorAll('input')];
    by!.value = '  Dr. Page Test ';
    note!.value = '   ';
    form.dispatchEvent(new Event('submit', { cancelable: true }));
    expect(form.querySelector('button')?.disabled).toBe(true);
    await Promise.resolve();
    await Promise.resolve();
    expect(calls).toEqual([{ id: course.alerts[0]!.alert!.id, body: { by: 'Dr. Page Test' } }]);
    expect(form.querySelector('.error')?.textContent).toBe('Not acknowledged: This token may not acknowledge alerts.');
    expect(form.querySelector('button')?.disabled).toBe(false);
    answer = Promise.resolve();
    note!.value = 'Phoned the patient';
    form.dispatchEvent(new Event('submit', { cancelable: true }));
    expect(calls[1]).toEqual({ id: course.alerts[0]!.alert!.id, body: { by: 'Dr. Page Test', note: 'Phoned the patient' } });
    expect(form.querySelector('.error')?.textContent).toBe('');
  });
});

describe('empty and edge states', () => {
  it('says plainly when there is nothing: no alerts, no measures, no goals, no EHR records, no screening', () => {
    const { course } = courseFixture();
    const empty: CourseDetail = {
      ...course,
      alerts: [],
      goalsOfCareDiscussions: [],
      sync: [],
      screening: null,
      measures: [],
      sessionDetails: [],
      followUps: [],
      stoppedAt: null,
    };
    const none = { phq9: [], gad7: [], change: { phq9: null, gad7: null } };
    const alerts = renderAlerts(empty, fmt, noAck);
    expect(alerts.safety).toBe(false);
    expect(mount(alerts.nodes).textContent).toBe('No active safety alerts.');
    expect(mount(renderGoals(empty, fmt)).textContent).toBe('No goals-of-care discussion recorded yet.');
    const summary = summaryOf(empty, none);
    expect(summary['PHQ-9']?.text).toBe('Not measured');
    expect(summary['GAD-7']?.text).toBe('Not measured');
    expect(summary).not.toHaveProperty('In the hospital EHR');
    expect(summary).not.toHaveProperty('Screening');
    const scores = renderScores('phq9', none, fmt);
    expect(scores.figure.querySelector('tbody')?.textContent).toBe('Not measured yet.');
    expect(scores.chart.totals).toEqual([]);
    expect(scores.chart.canvas.getAttribute('aria-label')).toBe('PHQ-9 totals over time: none yet.');
    expect(scores.figure.querySelector('#phq9-change')?.textContent).toBe('');
    expect(renderTimeline(empty, fmt, NOW).items.map((li) => li.dataset.kind)).toEqual(['start']);
  });

  it('draws no vitals chart for a session without readings, and dashes what a reading lacks', () => {
    const { course } = courseFixture();
    const [s1, s2] = course.sessionDetails;
    const sessions = [
      { ...s1!, vitals: [] },
      { ...s2!, vitals: [{ at: s2!.start, systolic: 120, diastolic: 80 }] },
    ];
    const { items, charts } = renderTimeline({ ...course, sessionDetails: sessions }, fmt, NOW);
    expect(charts).toHaveLength(1);
    expect(charts[0]).toMatchObject({ heartRate: [null], above: [false] });
    const row = items.find((li) => li.querySelector('tbody'))?.querySelector('tbody tr');
    expect([...(row?.children ?? [])].map((td) => td.textContent).slice(1)).toEqual(['120/80', '–', '–', '']);
  });

  it('puts the worst EHR state first and marks it', () => {
    const sync = (status: CourseDetail['sync'][number]['status']) => ({
      reference: 'Observation/x',
      version: '1',
      status,
      ehrReference: null,
      lastError: null,
    });
    expect(ehrText([sync('synced'), sync('failed'), sync('waiting-for-patient'), sync('not-sent')])).toEqual({
      text: 'waiting: the patient is not registered in the EHR yet (1 records); they go once the hospital registers them · 1 refused by the EHR · 1 in the EHR · 1 kept here (the EHR does not take them)',
      cls: 'worse',
    });
    expect(signed(0)).toBe('0');
    expect(signed(3)).toBe('+3');
  });
});

describe('hostile strings', () => {
  const HOSTILE = '<img src=x onerror="window.hacked=1"><script>window.hacked=1</script>&amp;"\'';

  it('show as the text they are, in every place a recorded string reaches, and add no element', () => {
    const { course, outcomes } = courseFixture();
    const [a0] = course.alerts;
    const hostile: CourseDetail = {
      ...course,
      courseId: HOSTILE,
      patient: { name: HOSTILE, identifier: HOSTILE, birthDate: '1950-04-02' },
      phase: HOSTILE,
      status: 'active',
      stoppedReason: null,
      alerts: [{ ...a0!, code: HOSTILE, text: HOSTILE, alert: { ...a0!.alert!, id: HOSTILE } }],
      screening: {
        ...course.screening!,
        outcome: HOSTILE,
        reasons: [{ code: HOSTILE, severity: HOSTILE, text: HOSTILE }],
        review: { decision: HOSTILE, reviewer: HOSTILE, note: HOSTILE, at: course.startsAt },
      },
      sessionDetails: course.sessionDetails.map((s) => ({ ...s, route: HOSTILE, doseLevel: HOSTILE, dose: { value: 1, unit: HOSTILE } })),
      measures: course.measures.map((m) => ({ ...m, timepointText: HOSTILE })),
      goalsOfCareDiscussions: course.goalsOfCareDiscussions.map((d) => ({
        ...d,
        participants: [HOSTILE],
        notes: [HOSTILE],
        goals: [{ description: HOSTILE, priority: HOSTILE }],
        preferences: [{ label: HOSTILE, value: HOSTILE }],
      })),
    };
    const header = renderHeader(hostile, fmt);
    expect(header.title).toBe(`${HOSTILE} · KAP course`);
    const page = mount([
      ...renderAlerts(hostile, fmt, noAck).nodes,
      ...renderSummary(hostile, outcomes, fmt),
      ...renderTimeline(hostile, fmt, NOW).items,
      ...renderGoals(hostile, fmt),
    ]);
    expect(page.querySelectorAll('img, script')).toHaveLength(0);
    expect([...page.querySelectorAll('*')].some((e) => e.hasAttribute('onerror'))).toBe(false);
    const text = page.textContent ?? '';
    // The alert, its title fallback, the phase, outcome, reason, review, route, dose, timepoint and every goals-of-care field.
    expect(text.split(HOSTILE).length - 1).toBeGreaterThanOrEqual(16);
    expect(page.querySelector('input')?.id).toBe(`ack-${HOSTILE}-by`);
    expect(page.querySelector('label')?.getAttribute('for')).toBe(`ack-${HOSTILE}-by`);
  });
});

describe("the clinic's times", () => {
  it('keeps a calendar day the day it is in any zone, names the zone where a time must not be misread, and shows what is not a time as it came', () => {
    for (const zone of ['Pacific/Kiritimati', 'Pacific/Pago_Pago', 'UTC']) expect(clinicFormat(zone).day('2026-03-29')).toBe('29 Mar 2026');
    const instant = '2026-03-29T01:30:00Z';
    expect(clinicFormat('Pacific/Kiritimati').when(instant)).toBe('29 Mar 2026, 15:30');
    expect(clinicFormat('Pacific/Pago_Pago').when(instant)).toBe('28 Mar 2026, 14:30');
    expect(clinicFormat('Europe/Berlin').whenNamed(instant)).toBe('29 Mar 2026, 03:30 (Europe/Berlin)');
    expect(fmt.when('not a time')).toBe('not a time');
    expect(fmt.when(null)).toBe('');
    expect(fmt.whenNamed(undefined)).toBe('');
  });
});
