import type { CarePlan, Observation, Patient } from '@medplum/fhirtypes';
import { readCourseContext } from './course-context';
import { insertCourse } from './courses';
import type { TenantDb } from './tenant';
import { insertDosingSessionWithFollowUps, listDosingSessions } from './dosing-sessions';
import { listFollowUps } from './follow-ups';
import { insertGoalsOfCare } from './goals-of-care';
import { ensurePatient } from './patients';
import { putResources, readResource } from './resources';
import { insertScreening, screeningInsert } from './screenings';
import { openTestDb, type TestDb } from './test-support';
import { writeTogether } from './write-together';

const MRN = 'urn:oid:1.2.3.4.mrn';

/** The transaction as seen through a counter of the statements sent on it. */
function counting(tx: TenantDb): { db: TenantDb; statements: () => number } {
  let n = 0;
  const db: TenantDb = {
    ...tx,
    query: (sql, params) => {
      n++;
      return tx.query(sql, params);
    },
    transaction: (fn) => fn(db),
  };
  return { db, statements: () => n };
}

describe('the round trips of a command', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb('store_round_trips');
  });
  afterAll(async () => {
    await t.cleanup();
  });

  const build = (): Patient => ({ resourceType: 'Patient', id: 'rt-new', name: [{ family: 'Doe' }] });

  it('ensurePatient with newId: a new Patient is looked up and claimed in one statement, a known one read in one', async () => {
    const identifier = { system: MRN, value: 'RT-1' };
    const created = await t.db.transaction(async (tx) => {
      const c = counting(tx);
      const result = await ensurePatient(c.db, identifier, build, { newId: 'rt-new' });
      expect(c.statements()).toBe(2); // the look-up with the claim, then putResources' one statement
      return result;
    });
    expect(created).toMatchObject({ created: true, patient: { id: 'rt-new', identifier: [identifier] } });
    const found = await t.db.transaction(async (tx) => {
      const c = counting(tx);
      const result = await ensurePatient(
        c.db,
        identifier,
        () => {
          throw new Error('must not build when the patient exists');
        },
        { newId: 'rt-other' },
      );
      expect(c.statements()).toBe(1);
      return result;
    });
    expect(found).toEqual({ created: false, patient: created.patient });
  });

  it('ensurePatient with newId gives one Patient to concurrent transactions', async () => {
    const identifier = { system: MRN, value: 'RT-RACE' };
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        t.db.transaction((tx) => ensurePatient(tx, identifier, () => ({ resourceType: 'Patient', id: 'rt-race' }), { newId: 'rt-race' })),
      ),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.patient.id))).toEqual(new Set(['rt-race']));
  });

  it('putResources writes only new resources in one statement, and a changed one in a second', async () => {
    const patient = 'rt-put';
    await t.db.transaction(async (tx) => {
      const c = counting(tx);
      const stored = await putResources<Observation>(
        c.db,
        [
          { resourceType: 'Observation', id: 'rt-o1', status: 'final', code: { text: 'a' } },
          { resourceType: 'Observation', id: 'rt-o2', status: 'final', code: { text: 'b' } },
        ],
        { patientId: patient },
      );
      expect(c.statements()).toBe(1);
      expect(stored.map((r) => r.meta?.versionId)).toEqual(['1', '1']);
    });
    await t.db.transaction(async (tx) => {
      const c = counting(tx);
      const stored = await putResources<Observation>(
        c.db,
        [
          { resourceType: 'Observation', id: 'rt-o1', status: 'final', code: { text: 'a' } },
          { resourceType: 'Observation', id: 'rt-o2', status: 'amended', code: { text: 'b' } },
          { resourceType: 'Observation', id: 'rt-o3', status: 'final', code: { text: 'c' } },
        ],
        { patientId: patient },
      );
      expect(c.statements()).toBe(2);
      expect(stored.map((r) => r.meta?.versionId)).toEqual(['1', '2', '1']);
    });
    expect((await readResource(t.db, 'Observation', 'rt-o2'))?.meta?.versionId).toBe('2');
  });

  it('writeTogether sends several writes as one statement, placeholders renumbered, and checks their row counts', async () => {
    const screening = (id: string) => ({
      id,
      patientId: 'rt-p',
      outcome: 'eligible' as const,
      reasons: [],
      resourceRefs: {},
      performedAt: '2025-03-01T10:00:00Z',
    });
    const counts = await t.db.transaction(async (tx) => {
      const c = counting(tx);
      const result = await writeTogether(c.db, [screeningInsert(screening('rt-s1')), screeningInsert(screening('rt-s2'))]);
      expect(c.statements()).toBe(1);
      return result;
    });
    expect(counts).toEqual([1, 1]);
    const stored = await t.db.query<{ id: string; performed_at: Date }>(
      "SELECT id, performed_at FROM screenings WHERE id LIKE 'rt-s%' ORDER BY id",
    );
    expect(stored.map((s) => s.id)).toEqual(['rt-s1', 'rt-s2']);
    // A write that returns other than it must fails the transaction, and nothing of it stays.
    await expect(
      t.db.transaction((tx) =>
        writeTogether(tx, [
          screeningInsert(screening('rt-s3')),
          { sql: 'DELETE FROM screenings WHERE id = $1 RETURNING id', params: ['rt-none'], expectRows: 1, failure: 'nothing to delete' },
        ]),
      ),
    ).rejects.toThrow('nothing to delete');
    expect(await t.db.query("SELECT id FROM screenings WHERE id = 'rt-s3'")).toEqual([]);
  });

  it('a session and its follow-ups are stored in one statement; a session number taken writes neither', async () => {
    const s = await insertScreening(t.db, {
      patientId: 'rt-p',
      outcome: 'eligible',
      reasons: [],
      resourceRefs: {},
      performedAt: '2025-03-01T10:00:00Z',
    });
    const course = await insertCourse(t.db, { screeningId: s.id, patientId: 'rt-p', carePlanId: 'rt-cp', startDate: '2025-03-02' });
    if (!course) throw new Error('no course');
    const session = {
      courseId: course.id,
      sessionNumber: 1,
      start: '2025-03-03T10:00:00Z',
      end: '2025-03-03T12:00:00Z',
      doseLevel: 'low' as const,
      resourceRefs: {},
    };
    const followUps = [1, 2].map((sequence) => ({
      courseId: course.id,
      sessionNumber: 1,
      sequence,
      dueBy: `2025-03-0${3 + sequence}T12:00:00Z`,
      taskId: `rt-task-${sequence}`,
    }));
    const first = await t.db.transaction(async (tx) => {
      const c = counting(tx);
      const result = await insertDosingSessionWithFollowUps(c.db, session, followUps);
      expect(c.statements()).toBe(1);
      return result;
    });
    expect(first.session).toMatchObject({ courseId: course.id, sessionNumber: 1, start: '2025-03-03T10:00:00.000Z' });
    expect(first.followUps.map((f) => [f.sequence, f.taskId, f.dueBy, f.status])).toEqual([
      [1, 'rt-task-1', '2025-03-04T12:00:00.000Z', 'scheduled'],
      [2, 'rt-task-2', '2025-03-05T12:00:00.000Z', 'scheduled'],
    ]);
    const again = await insertDosingSessionWithFollowUps(
      t.db,
      session,
      followUps.map((f) => ({ ...f, taskId: 'rt-other' })),
    );
    expect(again).toEqual({ session: undefined, followUps: [] });
    expect(await listDosingSessions(t.db, course.id)).toHaveLength(1);
    expect((await listFollowUps(t.db, course.id)).map((f) => f.taskId)).toEqual(['rt-task-1', 'rt-task-2']);

    // What a command on the course reads after locking it: one statement, as the single reads give it.
    await putResources(t.db, [
      { resourceType: 'CarePlan', id: 'rt-cp', status: 'active', intent: 'plan', subject: { reference: 'Patient/rt-p' } } as CarePlan,
    ]);
    await insertGoalsOfCare(t.db, {
      courseId: course.id,
      discussedAt: '2025-03-02T09:00:00Z',
      resourceRefs: { composition: 'Composition/x' },
    });
    const context = await t.db.transaction(async (tx) => {
      const c = counting(tx);
      const result = await readCourseContext(c.db, course);
      expect(c.statements()).toBe(1);
      return result;
    });
    expect(context.sessions).toEqual(await listDosingSessions(t.db, course.id));
    expect(context.goalsOfCare).toMatchObject([
      { courseId: course.id, discussedAt: '2025-03-02T09:00:00.000Z', resourceRefs: { composition: 'Composition/x' } },
    ]);
    expect(context.carePlan).toMatchObject({ id: 'rt-cp', meta: { versionId: '1' } });
    expect(context.screening).toEqual(s);
  });
});
