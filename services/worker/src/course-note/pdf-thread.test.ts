import { courseNotePdf, type CourseNoteModel } from '@kap/fhir';
import { closePdfThread, pdfThreadState, renderCourseNotePdf } from './pdf-thread';

const MODEL: CourseNoteModel = {
  courseId: 'course-1',
  patient: { id: 'p1', name: 'Ada Lovelace', birthDate: '1950-02-03', identifier: 'MRN-0001' },
  period: { start: '2026-03-02' },
  asOf: '2026-03-06T10:00:00Z',
  screening: { performedAt: '2026-03-01T10:00:00Z', outcome: 'eligible', reasons: [], review: null },
  safetyAlerts: [],
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
  ],
  measures: [
    {
      label: 'Baseline (screening)',
      measuredAt: '2026-03-01T10:00:00Z',
      baseline: true,
      phq9: { total: 18, severity: 'Moderately severe' },
      gad7: null,
      selfHarm: false,
    },
  ],
  goalsOfCare: [],
  followUps: [{ sessionNumber: 1, sequence: 1, dueBy: '2026-03-08T09:00:00Z', status: 'scheduled', completedAt: null, note: null }],
  stop: null,
};

describe('the course note PDF rendered off the event loop', () => {
  afterAll(closePdfThread);

  it('is rendered on its thread, to the same bytes as in the main thread, for several notes at once', async () => {
    const options = { timeZone: 'Europe/Berlin' };
    const other: CourseNoteModel = { ...MODEL, courseId: 'course-2', patient: { ...MODEL.patient, name: 'Grace Hopper' } };
    const [a, b] = await Promise.all([renderCourseNotePdf(MODEL, options), renderCourseNotePdf(other, options)]);
    // The thread loads the built @kap/fhir (the build runs before the tests); in the main thread it would say so here.
    expect(pdfThreadState()).toBe('running');
    expect(a.equals(await courseNotePdf(MODEL, options))).toBe(true);
    expect(b.equals(await courseNotePdf(other, options))).toBe(true);
    expect(a.equals(b)).toBe(false);
    // Closed (as the worker's shutdown does), the next note starts a thread again.
    await closePdfThread();
    expect(pdfThreadState()).toBe('not started');
    expect((await renderCourseNotePdf(MODEL, options)).equals(a)).toBe(true);
    expect(pdfThreadState()).toBe('running');
  });
});
