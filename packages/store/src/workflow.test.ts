import { cancelPendingFollowUps, getFollowUp, insertFollowUps, listFollowUps, setFollowUpStatus, setFollowUpTask } from './follow-ups';
import { getCourse, insertCourse, listCoursesForScreening, stopCourse } from './courses';
import { insertDosingSession, listDosingSessions } from './dosing-sessions';
import { insertGoalsOfCare, listGoalsOfCare } from './goals-of-care';
import { getScreening, insertScreening, recordReview } from './screenings';
import { openTestDb, type TestDb } from './test-support';

describe('workflow tables', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb('store_workflow');
  });
  afterAll(async () => {
    await t.cleanup();
  });

  async function newCourse(screeningId: string) {
    await insertScreening(t.db, {
      id: screeningId,
      patientId: 'p1',
      outcome: 'eligible',
      reasons: [],
      resourceRefs: {},
      performedAt: '2025-03-01T09:00:00+01:00',
    });
    const course = await insertCourse(t.db, { screeningId, patientId: 'p1', carePlanId: `cp-${screeningId}`, startDate: '2025-03-02' });
    if (!course) throw new Error('course not stored');
    return course;
  }

  it('keeps one course per screening', async () => {
    const first = await newCourse('s-one-course');
    const second = await insertCourse(t.db, {
      screeningId: 's-one-course',
      patientId: 'p1',
      carePlanId: 'cp-other',
      startDate: '2025-03-02',
    });
    expect(second).toBeUndefined();
    expect(await getCourse(t.db, first.id)).toEqual(first);
  });

  it('stores a screening and records one review only', async () => {
    const stored = await insertScreening(t.db, {
      patientId: 'p1',
      outcome: 'needs-review',
      reasons: [{ code: 'bipolarHistory', severity: 'caution', text: 'History of bipolar disorder' }],
      resourceRefs: { eligibility: 'Observation/o1', questionnaireResponse: 'QuestionnaireResponse/qr1' },
      performedAt: '2025-03-01T09:00:00+01:00',
    });
    expect(stored.performedAt).toBe('2025-03-01T08:00:00.000Z');
    expect(stored.review).toBeNull();
    expect(await getScreening(t.db, stored.id)).toEqual(stored);
    expect(await getScreening(t.db, 'missing')).toBeUndefined();

    const review = { decision: 'approved' as const, reviewer: 'Dr Who', note: 'ok', at: '2025-03-01T10:00:00Z' };
    expect(await recordReview(t.db, stored.id, review)).toBe(true);
    expect(await recordReview(t.db, stored.id, { ...review, decision: 'declined' })).toBe(false);
    expect(await recordReview(t.db, 'missing', review)).toBe(false);
    expect((await getScreening(t.db, stored.id))?.review).toEqual({ ...review, at: '2025-03-01T10:00:00.000Z' });
  });

  it('starts and stops a course once', async () => {
    const course = await newCourse('scr-course');
    expect(course).toMatchObject({ startDate: '2025-03-02', stoppedReason: null, stoppedAt: null, carePlanId: 'cp-scr-course' });
    expect(await getCourse(t.db, course.id)).toEqual(course);
    expect((await listCoursesForScreening(t.db, 'scr-course')).map((c) => c.id)).toEqual([course.id]);
    expect(await stopCourse(t.db, course.id, 'withdrawn', '2025-03-10T12:00:00Z')).toBe(true);
    expect(await stopCourse(t.db, course.id, 'deceased', '2025-03-11T12:00:00Z')).toBe(false);
    expect(await getCourse(t.db, course.id)).toMatchObject({ stoppedReason: 'withdrawn', stoppedAt: '2025-03-10T12:00:00.000Z' });
  });

  it('records each dosing session number once', async () => {
    const course = await newCourse('scr-sessions');
    const session = {
      courseId: course.id,
      sessionNumber: 1,
      start: '2025-03-03T09:00:00Z',
      end: '2025-03-03T11:00:00Z',
      doseLevel: 'low' as const,
      resourceRefs: { procedure: 'Procedure/pr1' },
    };
    const first = await insertDosingSession(t.db, session);
    expect(first).toMatchObject({ sessionNumber: 1, start: '2025-03-03T09:00:00.000Z', doseLevel: 'low' });
    expect(await insertDosingSession(t.db, { ...session, doseLevel: 'moderate' })).toBeUndefined();
    await insertDosingSession(t.db, { ...session, sessionNumber: 2, doseLevel: 'moderate' });
    const stored = await listDosingSessions(t.db, course.id);
    expect(stored.map((s) => s.sessionNumber)).toEqual([1, 2]);
    expect(stored[0]).toEqual(first);
  });

  it('schedules follow-ups idempotently, completes, guards and cancels them', async () => {
    const course = await newCourse('scr-follow');
    const planned = [1, 2, 3].map((sequence) => ({
      courseId: course.id,
      sessionNumber: 1,
      sequence,
      dueBy: new Date(Date.UTC(2025, 2, 3 + sequence)),
    }));
    const scheduled = await insertFollowUps(t.db, planned);
    expect(scheduled.map((f) => f.status)).toEqual(['scheduled', 'scheduled', 'scheduled']);
    const again = await insertFollowUps(
      t.db,
      planned.map((p) => ({ ...p, id: `other-${p.sequence}` })),
    );
    expect(again.map((f) => f.id)).toEqual(scheduled.map((f) => f.id));
    expect(await listFollowUps(t.db, course.id)).toHaveLength(3);

    const [one, two, three] = scheduled;
    if (!one || !two || !three) throw new Error('expected three follow-ups');
    expect(await setFollowUpTask(t.db, one.id, 'task-1')).toBe(true);
    const done = await setFollowUpStatus(t.db, one.id, 'completed', '2025-03-04T08:00:00Z', { note: 'went well' });
    expect(done).toMatchObject({ status: 'completed', completedAt: '2025-03-04T08:00:00.000Z', note: 'went well', taskId: 'task-1' });
    // A worker escalating only from `scheduled` does not overwrite the completion.
    expect(await setFollowUpStatus(t.db, one.id, 'escalated', undefined, { onlyFrom: ['scheduled'] })).toBeUndefined();
    expect((await getFollowUp(t.db, one.id))?.status).toBe('completed');
    expect(await setFollowUpStatus(t.db, two.id, 'escalated', undefined, { onlyFrom: ['scheduled'] })).toMatchObject({
      status: 'escalated',
      completedAt: null,
    });

    const cancelled = await cancelPendingFollowUps(t.db, course.id);
    expect(cancelled.map((f) => f.id)).toEqual([two.id, three.id]);
    expect((await listFollowUps(t.db, course.id)).map((f) => f.status)).toEqual(['completed', 'cancelled', 'cancelled']);
    expect(await getFollowUp(t.db, 'missing')).toBeUndefined();
  });

  it('completes a follow-up that a concurrent escalation changed first (the flaky 409)', async () => {
    const course = await newCourse('scr-race');
    const [followUp] = await insertFollowUps(t.db, [
      { courseId: course.id, sessionNumber: 1, sequence: 1, dueBy: new Date(Date.UTC(2025, 2, 4)) },
    ]);
    if (!followUp) throw new Error('expected a follow-up');
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let escalatedInTx!: () => void;
    const escalated = new Promise<void>((r) => (escalatedInTx = r));
    // The worker's escalation holds the row, uncommitted, while the clinician's completion arrives.
    const worker = t.db.transaction(async (tx) => {
      expect(await setFollowUpStatus(tx, followUp.id, 'escalated', undefined, { onlyFrom: ['scheduled'] })).toMatchObject({
        status: 'escalated',
      });
      escalatedInTx();
      await held;
    });
    await escalated;
    const completion = setFollowUpStatus(t.db, followUp.id, 'completed', '2025-03-04T08:00:00Z', { onlyFrom: ['scheduled', 'escalated'] });
    // Once the completion waits on the row lock, commit the escalation.
    for (;;) {
      // The deployment's role: the tenant's may not read other sessions' queries.
      const [row] = await t.deployment.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE follow_ups%'",
      );
      if ((row?.n ?? 0) > 0) break;
      await new Promise((r) => setImmediate(r));
    }
    release();
    await worker;
    expect(await completion).toMatchObject({ status: 'completed' });
  });

  it('stores goals-of-care discussions', async () => {
    const course = await newCourse('scr-goals');
    const goals = await insertGoalsOfCare(t.db, {
      courseId: course.id,
      discussedAt: '2025-03-20T15:00:00Z',
      resourceRefs: { carePlan: 'CarePlan/cp1' },
    });
    expect(await listGoalsOfCare(t.db, course.id)).toEqual([goals]);
  });
});
