import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { collectionBundle } from './bundle';
import { buildCourseNote, CLINICAL_NOTE_CATEGORY, courseNoteHolds, courseNoteId, supersedeCourseNote } from './course-note';
import { courseNoteHtml, escapeHtml } from './course-note-html';
import { formatInstant, trajectoryRows, type CourseNoteModel } from './course-note-model';
import { courseNotePdf, pdfSafeText } from './course-note-pdf';
import { BASE_URL, RECORDED_AT } from '@kap/testkit/fixtures';

const HOSTILE = `<script>alert("x")</script>&'`;

const MODEL: CourseNoteModel = {
  courseId: 'course-1',
  patient: { id: 'p1', name: 'Ada Lovelace', birthDate: '1950-02-03', identifier: 'MRN-0001' },
  period: { start: '2026-03-02', end: '2026-05-01T16:30:00Z' },
  asOf: '2026-05-01T16:30:00Z',
  screening: {
    performedAt: '2026-03-01T10:00:00Z',
    outcome: 'needs-review',
    reasons: [{ code: 'hypertension', severity: 'caution', text: 'Blood pressure 150/95 mmHg above the caution threshold' }],
    review: { decision: 'approved', reviewer: 'Dr Grace Hopper', note: HOSTILE, at: '2026-03-01T15:00:00Z' },
  },
  safetyAlerts: [{ text: 'PHQ-9 item 9 answered above zero', raisedAt: '2026-03-20T10:00:00Z', active: true }],
  sessions: [
    {
      sessionNumber: 1,
      start: '2026-03-05T09:00:00Z',
      end: '2026-03-05T11:00:00Z',
      doseLevel: 'low',
      dose: { value: 0.5, unit: 'mg/kg' },
      route: 'Intramuscular',
      alerts: [],
    },
    {
      sessionNumber: 2,
      start: '2026-03-19T09:00:00Z',
      end: '2026-03-19T11:00:00Z',
      doseLevel: 'moderate',
      dose: { value: 0.75, unit: 'mg/kg' },
      route: 'Intramuscular',
      alerts: ['Blood pressure 172/104 mmHg above the in-session threshold'],
    },
  ],
  measures: [
    {
      label: 'Baseline (screening)',
      measuredAt: '2026-03-01T10:00:00Z',
      baseline: true,
      phq9: { total: 18, severity: 'Moderately severe' },
      gad7: { total: 15, severity: 'Severe' },
      selfHarm: false,
    },
    {
      label: 'After session 1',
      measuredAt: '2026-03-06T10:00:00Z',
      baseline: false,
      phq9: { total: 12, severity: 'Moderate' },
      gad7: { total: 11, severity: 'Moderate' },
      selfHarm: false,
    },
    {
      label: 'After session 2',
      measuredAt: '2026-03-20T10:00:00Z',
      baseline: false,
      phq9: { total: 7, severity: 'Mild' },
      gad7: null,
      selfHarm: true,
    },
  ],
  goalsOfCare: [
    {
      discussedAt: '2026-04-01T14:00:00Z',
      participants: ['Dr Grace Hopper', 'Ada Lovelace'],
      goals: [{ description: `Be at home for my daughter's wedding ${HOSTILE}`, priority: 'High priority' }],
      preferences: [{ label: 'Place of death', value: 'Home' }],
      notes: ['Wants to avoid further hospital admissions.'],
    },
  ],
  followUps: [
    {
      sessionNumber: 1,
      sequence: 1,
      dueBy: '2026-03-08T09:00:00Z',
      status: 'completed',
      completedAt: '2026-03-07T12:00:00Z',
      note: 'Integration went well',
    },
    { sessionNumber: 2, sequence: 1, dueBy: '2026-03-22T09:00:00Z', status: 'escalated', completedAt: null, note: null },
  ],
  stop: { reason: 'completed', at: '2026-05-01T16:30:00Z' },
};

describe('formatInstant', () => {
  it('shows the instant in the zone it is given', () => {
    expect(formatInstant('2026-03-05T09:00:00Z', 'UTC')).toBe('2026-03-05 09:00');
    expect(formatInstant('2026-03-05T09:00:00Z', 'America/New_York')).toBe('2026-03-05 04:00');
    expect(formatInstant('2026-07-05T23:30:00Z', 'Europe/Berlin')).toBe('2026-07-06 01:30');
  });
});

describe('trajectoryRows', () => {
  it('gives each total its change since the baseline, and a dash where one is missing', () => {
    const rows = trajectoryRows(MODEL);
    expect(rows.map((r) => [r.phq9, r.phq9Change, r.gad7, r.gad7Change])).toEqual([
      ['18 (Moderately severe)', 'baseline', '15 (Severe)', 'baseline'],
      ['12 (Moderate)', '\u22126', '11 (Moderate)', '\u22124'],
      ['7 (Mild)', '\u221211', '\u2014', '\u2014'],
    ]);
  });

  it('has no change without a baseline', () => {
    const rows = trajectoryRows({ ...MODEL, measures: MODEL.measures.slice(1) });
    expect(rows.map((r) => r.phq9Change)).toEqual(['\u2014', '\u2014']);
  });
});

describe('courseNoteHtml', () => {
  const html = courseNoteHtml(MODEL, { timeZone: 'UTC' });

  it('escapes every entered string', () => {
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
    expect(escapeHtml(`a<b>&"'`)).toBe('a&lt;b&gt;&amp;&quot;&#39;');
  });

  it('escapes a hostile patient name in the title and the body', () => {
    const hostile = courseNoteHtml(
      { ...MODEL, patient: { ...MODEL.patient, name: '</title><img src=x onerror=alert(1)>' } },
      { timeZone: 'UTC' },
    );
    expect(hostile).not.toMatch(/<img/);
    expect(hostile.match(/&lt;\/title&gt;&lt;img src=x onerror=alert\(1\)&gt;/g)).toHaveLength(2);
  });

  it('holds every section, the times in the named zone, and the PHQ-9 table', () => {
    for (const heading of [
      'Screening',
      'Safety alerts',
      'Dosing sessions',
      'PHQ-9 and GAD-7',
      'Goals of care',
      'Follow-ups',
      'Course stop',
    ]) {
      expect(html).toContain(`<h2>${heading}</h2>`);
    }
    expect(html).toContain('shown in UTC');
    expect(html).toContain('<td>12 (Moderate)</td><td>\u22126</td>');
    expect(html).toContain('Blood pressure 172/104 mmHg above the in-session threshold');
    expect(html).toContain('Stopped 2026-05-01 16:30: completed.');
    const berlin = courseNoteHtml(MODEL, { timeZone: 'Europe/Berlin' });
    expect(berlin).toContain('shown in Europe/Berlin');
    expect(berlin).toContain('2026-05-01 18:30');
  });

  it('matches the golden file', () => {
    const path = join(__dirname, '__golden__', 'course-note.html');
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, html);
    if (!existsSync(path)) throw new Error('Missing golden file course-note.html: run with UPDATE_GOLDEN=1 and review it');
    expect(html).toBe(readFileSync(path, 'utf8'));
  });
});

describe('courseNotePdf', () => {
  it('is a PDF, the same bytes for the same course, dated by the data', async () => {
    const a = await courseNotePdf(MODEL, { timeZone: 'UTC' });
    const b = await courseNotePdf(MODEL, { timeZone: 'UTC' });
    expect(a.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(a.equals(b)).toBe(true);
    expect(a.toString('latin1')).toContain('(D:20260501163000Z)');
    const changed = await courseNotePdf({ ...MODEL, asOf: '2026-05-02T00:00:00Z' }, { timeZone: 'UTC' });
    expect(changed.equals(a)).toBe(false);
  });

  it('draws what the standard fonts cannot as ?', () => {
    expect(pdfSafeText('Zoë — 山田 😀\u2212')).toBe('Zoë — ?? ?-');
  });
});

describe('buildCourseNote', () => {
  let html: string;
  let pdf: Buffer;
  beforeAll(async () => {
    html = courseNoteHtml(MODEL, { timeZone: 'UTC' });
    pdf = await courseNotePdf(MODEL, { timeZone: 'UTC' });
  });

  it('is a US Core shaped clinical note with both attachments inline', () => {
    const note = buildCourseNote({ model: MODEL, version: 1, html, pdf });
    expect(note.id).toBe(courseNoteId('course-1', 1));
    expect(note.status).toBe('current');
    expect(note.docStatus).toBe('final');
    expect(note.type?.coding).toEqual([{ system: 'http://loinc.org', code: '11506-3', display: 'Progress note' }]);
    expect(note.category?.[0]?.coding).toEqual([CLINICAL_NOTE_CATEGORY]);
    expect(note.subject).toEqual({ reference: 'Patient/p1', display: 'Ada Lovelace' });
    expect(note.date).toBe(MODEL.asOf);
    expect(note.author).toHaveLength(1);
    expect(note.context?.period).toEqual(MODEL.period);
    expect(note.relatesTo).toBeUndefined();
    const [h, p] = note.content.map((c) => c.attachment);
    expect(h?.contentType).toBe('text/html');
    expect(Buffer.from(h?.data ?? '', 'base64').toString('utf8')).toBe(html);
    expect(h?.size).toBe(Buffer.byteLength(html));
    expect(p?.contentType).toBe('application/pdf');
    expect(Buffer.from(p?.data ?? '', 'base64').equals(pdf)).toBe(true);
    expect(p?.hash).toBe(createHash('sha1').update(pdf).digest('base64'));
    expect(p?.size).toBe(pdf.length);
    expect(p?.creation).toBe(MODEL.asOf);
    expect(p?.title).toContain('Ada Lovelace');
    expect(courseNoteHolds(note, html)).toBe(true);
    expect(courseNoteHolds(note, `${html} `)).toBe(false);
  });

  it('replaces the version before, which becomes superseded', () => {
    const first = buildCourseNote({ model: MODEL, version: 1, html, pdf });
    const second = buildCourseNote({ model: MODEL, version: 2, html, pdf });
    expect(second.id).not.toBe(first.id);
    expect(second.relatesTo).toEqual([{ code: 'replaces', target: { reference: `DocumentReference/${first.id}` } }]);
    const old = supersedeCourseNote(first);
    expect(old.status).toBe('superseded');
    expect(old.docStatus).toBe('final');
    expect(() => buildCourseNote({ model: MODEL, version: 0, html, pdf })).toThrow(/version/);
  });

  it('matches the golden file', () => {
    const bundle = collectionBundle(
      [
        supersedeCourseNote(buildCourseNote({ model: MODEL, version: 1, html, pdf })),
        buildCourseNote({ model: MODEL, version: 2, html, pdf }),
      ],
      BASE_URL,
      RECORDED_AT,
    );
    const dir = join(__dirname, '__golden__');
    const path = join(dir, 'course-note.json');
    const text = `${JSON.stringify(bundle, null, 2)}\n`;
    if (process.env.UPDATE_GOLDEN === '1') {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path, text);
    }
    if (!existsSync(path)) throw new Error('Missing golden file course-note.json: run with UPDATE_GOLDEN=1 and review it');
    expect(JSON.parse(text)).toEqual(JSON.parse(readFileSync(path, 'utf8')));
  });
});
