import { checkCourseStart, checkDosingSession, phaseOf } from './course';
import { parseDurationMs, parseFollowUpOffsets, planFollowUps } from './follow-ups';

describe('course order rules', () => {
  const fresh = { sessionsRecorded: [], goalsOfCareRecorded: false };

  it('allows session 1 first and refuses session 2 before it', () => {
    expect(checkDosingSession(fresh, 1)).toBeUndefined();
    expect(checkDosingSession(fresh, 2)?.code).toBe('session-order');
    expect(checkDosingSession({ ...fresh, sessionsRecorded: [1] }, 2)).toBeUndefined();
  });

  it('refuses a session recorded twice and anything after a stop', () => {
    expect(checkDosingSession({ ...fresh, sessionsRecorded: [1] }, 1)?.code).toBe('session-recorded');
    expect(checkDosingSession({ ...fresh, stoppedReason: 'withdrawn' }, 1)?.code).toBe('course-stopped');
  });

  it('derives the phase from what was recorded', () => {
    expect(phaseOf(fresh)).toBe('preparation');
    expect(phaseOf({ ...fresh, sessionsRecorded: [1] })).toBe('integration-1');
    expect(phaseOf({ ...fresh, sessionsRecorded: [1, 2] })).toBe('integration-2');
    expect(phaseOf({ sessionsRecorded: [1, 2], goalsOfCareRecorded: true })).toBe('goals-of-care-done');
    expect(phaseOf({ ...fresh, stoppedReason: 'deceased' })).toBe('stopped');
  });

  it('starts a course only from an eligible or approved screening', () => {
    expect(checkCourseStart('eligible', null)).toBeUndefined();
    expect(checkCourseStart('needs-review', 'approved')).toBeUndefined();
    expect(checkCourseStart('needs-review', null)?.text).toMatch(/awaits clinician review/);
    expect(checkCourseStart('needs-review', 'declined')?.text).toMatch(/declined/);
    expect(checkCourseStart('contraindicated', 'approved')?.text).toMatch(/absolute contraindication/);
  });
});

describe('follow-up offsets', () => {
  it('parses the default offsets', () => {
    expect(parseFollowUpOffsets('PT24H,PT72H,P7D')).toEqual([24 * 3600e3, 72 * 3600e3, 7 * 86400e3]);
  });

  it('parses seconds for demos and sorts', () => {
    expect(parseFollowUpOffsets('PT20S,PT5S,PT1.5S')).toEqual([1500, 5000, 20000]);
    expect(parseDurationMs('P1W')).toBe(7 * 86400e3);
  });

  it.each(['', 'P', 'PT', '24H', 'P1M', 'P1Y', 'PT0S', 'PT-5S', 'nonsense'])('refuses %j', (text) => {
    expect(() => parseDurationMs(text)).toThrow();
  });

  it('plans follow-ups after the session end', () => {
    const end = new Date('2026-03-01T12:00:00Z');
    expect(planFollowUps(end, [1000, 2000])).toEqual([
      { sequence: 1, dueBy: new Date('2026-03-01T12:00:01Z') },
      { sequence: 2, dueBy: new Date('2026-03-01T12:00:02Z') },
    ]);
  });
});
