import { WORK, unitPayload } from '@kap/queue';
import { acquireLease, getOutboxMessage, releaseLease, type OutboxRow } from '@kap/store';
import type { Job } from 'bullmq';
import pino from 'pino';
import request from 'supertest';
import { ehrSyncProcessor } from '@kap/worker';
import type { WorkerDeps } from '@kap/worker';
import { sessionRequest } from '@kap/testkit/course-flow';
import { auditEhr } from '@kap/testkit/ehr-audit';
import { screeningRequest, courseStartYesterday } from '@kap/testkit/requests';
import { startStack, type Stack } from '@kap/testkit/stack';

jest.setTimeout(120_000);

/**
 * A patient's ehr-sync rows pile up (a screening, a course, a session: one row each). The
 * job that holds the patient's lease syncs all of their data, so it completes every row it
 * saw before reading the data; their own jobs then end without waiting for the lease.
 */
describe("one patient's sync completes the rows it covered", () => {
  let stack: Stack;
  let deps: WorkerDeps;
  beforeAll(async () => {
    // No worker: the test runs the ehr-sync jobs itself, one at a time.
    stack = await startStack({}, { sandboxOptions: { profile: 'default' } });
    deps = {
      config: stack.config,
      db: stack.db,
      ehr: stack.ehr,
      queues: stack.queues,
      queuePrefix: stack.prefix,
      logger: pino({ level: 'silent' }),
      workerId: 'coalesce',
    };
  });
  afterAll(async () => {
    await stack?.close();
  });

  const syncRows = async (): Promise<OutboxRow[]> => {
    const rows = await stack.db.query<{ id: string }>('SELECT id FROM outbox WHERE topic = $1 ORDER BY id', [WORK.ehrSync.topic]);
    return Promise.all(rows.map(async (r) => (await getOutboxMessage(stack.tenantDb, Number(r.id))) as OutboxRow));
  };
  /** The job the relay would make of a row; only what the processor reads of a job. */
  const jobOf = (row: OutboxRow): Job => {
    const [job] = WORK.ehrSync.jobs(WORK.ehrSync.payload.parse(unitPayload(row.payload)), {
      key: row.key,
      patientId: row.patientId,
      tenantId: row.tenantId,
    });
    return { id: `job-${row.id}`, data: job?.data } as unknown as Job;
  };

  it('syncs once for the rows seen, lets their jobs end at once, and leaves a later row its own sync', async () => {
    const screening = await request(stack.app).post('/v1/screenings').send(screeningRequest()).expect(201);
    const course = await request(stack.app)
      .post('/v1/courses')
      .send({ screeningId: screening.body.screeningId, startDate: courseStartYesterday() })
      .expect(201);
    const [first, second] = await syncRows();
    if (!first || !second) throw new Error('expected two ehr-sync rows');
    const process = ehrSyncProcessor(deps);

    const outcome = await process(jobOf(first));
    expect(outcome.written).toBeGreaterThan(0);
    expect((await getOutboxMessage(stack.tenantDb, first.id))?.completedAt).not.toBeNull();
    expect((await getOutboxMessage(stack.tenantDb, second.id))?.completedAt).not.toBeNull();

    // The second row's job does not wait for the lease: its work is done. (A job that had to
    // wait would move itself to delayed, which this stand-in job cannot do.)
    const patientId = first.patientId as string;
    expect(await acquireLease(stack.tenantDb, `patient/${patientId}`, 'someone-else', 60_000)).toBe(true);
    expect(await process(jobOf(second))).toEqual({ written: 0, unchanged: 0, notSent: 0, requests: 0 });
    await releaseLease(stack.tenantDb, `patient/${patientId}`, 'someone-else');

    // A row committed after that sync is open, and its job sends its data.
    await request(stack.app)
      .post(`/v1/courses/${course.body.courseId}/dosing-sessions`)
      .send(sessionRequest(1, new Date(Date.now() - 90 * 60_000)))
      .expect(201);
    const third = (await syncRows()).find((r) => r.id !== first.id && r.id !== second.id);
    if (!third) throw new Error('expected a third ehr-sync row');
    expect(third.completedAt).toBeNull();
    expect((await process(jobOf(third))).written).toBeGreaterThan(0);
    expect((await getOutboxMessage(stack.tenantDb, third.id))?.completedAt).not.toBeNull();

    const audit = await auditEhr(stack.db, stack.sandbox.url);
    expect(audit.missing).toEqual([]);
    expect(audit.duplicates).toEqual([]);
  });
});
