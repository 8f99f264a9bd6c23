import type { EhrClient } from '@kap/ehr-client';
import { writeSettingsFrom } from '@kap/ehr-client';
import { getSyncStates, listUnsynced } from '@kap/store';
import type { Bundle } from '@medplum/fhirtypes';
import { spawnWorkerProcess } from '@kap/testkit/drill';
import { until } from '@kap/testkit/poll';
import { syncPatient } from '@kap/worker';
import { danglingReferences, everything, startCourseWithFirstSession } from '@kap/testkit/course-flow';
import { auditEhr } from '@kap/testkit/ehr-audit';
import { startStack, type Stack } from '@kap/testkit/stack';

jest.setTimeout(120_000);

class WorkerKilled extends Error {}

/**
 * The worker's EHR client, dying at the second transaction of a run: `before` it is sent
 * (the process died between two chunks), or `after` the EHR committed it but before its
 * answer was recorded (the process died with the response in flight).
 */
function dyingAtSecondChunk(ehr: EhrClient, when: 'before' | 'after'): EhrClient {
  let transactions = 0;
  return {
    ...ehr,
    transaction: async (bundle: Bundle) => {
      transactions++;
      if (transactions < 2) return ehr.transaction(bundle);
      if (when === 'after') await ehr.transaction(bundle);
      throw new WorkerKilled(`killed ${when} chunk ${transactions}`);
    },
  };
}

describe.each([['before'], ['after']] as const)('a worker killed %s sending the second chunk of one patient', (when) => {
  let stack: Stack;
  beforeAll(async () => {
    // No worker: this test runs the patient's sync itself, to die at a chosen point.
    stack = await startStack({}, { sandboxOptions: { profile: 'default' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('leaves nothing duplicated or dangling once the sync resumes', async () => {
    const { patientId } = await startCourseWithFirstSession(stack.app);
    const pending = await listUnsynced(stack.tenantDb, patientId);
    // Many more than one chunk of 8.
    expect(pending.length).toBeGreaterThan(16);

    const settings = writeSettingsFrom(stack.config);
    await expect(syncPatient(stack.tenantDb, dyingAtSecondChunk(stack.ehr, when), patientId, { settings })).rejects.toBeInstanceOf(
      WorkerKilled,
    );
    // The first chunk was recorded before the second was sent.
    const states = await getSyncStates(
      stack.tenantDb,
      pending.map((p) => ({ type: p.type, id: p.id })),
    );
    const synced = states.filter((s) => s.status === 'synced').length;
    expect(synced).toBeGreaterThan(0);
    expect(synced).toBeLessThanOrEqual(settings.maxTransactionEntries);

    const resumed = await syncPatient(stack.tenantDb, stack.ehr, patientId, { settings });
    expect(resumed.written + resumed.unchanged).toBeGreaterThan(0);
    expect(await listUnsynced(stack.tenantDb, patientId)).toEqual([]);

    const audit = await auditEhr(stack.db, stack.sandbox.url);
    expect(audit.duplicates).toEqual([]);
    expect(audit.missing).toEqual([]);
    expect(audit.ehr).toEqual(audit.local);
    const all = (await Promise.all(Object.keys(audit.local).map((t) => everything(stack.sandbox.url, t)))).flat();
    expect(danglingReferences(all)).toEqual([]);

    // A second resume finds nothing to do.
    expect(await syncPatient(stack.tenantDb, stack.ehr, patientId, { settings })).toMatchObject({ written: 0 });
  });
});

describe('a worker process killed (SIGKILL) while the second chunk of one patient is on its way', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({}, { sandboxOptions: { profile: 'default' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('leaves nothing duplicated or dangling once another worker resumes', async () => {
    const { patientId } = await startCourseWithFirstSession(stack.app);
    expect((await listUnsynced(stack.tenantDb, patientId)).length).toBeGreaterThan(16);

    // The first transaction goes through; the second waits in the EHR long enough to kill the worker meanwhile.
    stack.sandbox.sandbox.injectFault({ match: 'transaction', delayMs: 1, count: 1 });
    stack.sandbox.sandbox.injectFault({ match: 'transaction', delayMs: 4000, count: 1 });
    const child = spawnWorkerProcess(stack, { WORKER_ID: 'chunk-victim' });
    const exited = new Promise((r) => child.once('exit', r));
    await until(() => stack.sandbox.sandbox.faultsTaken() === 2, 30_000, 'the second chunk to reach the EHR', 20);
    child.kill('SIGKILL');
    await exited;
    // The first chunk was recorded before the second was sent; the second was not.
    const [synced] = await stack.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM sync_state WHERE status = 'synced'`);
    expect(synced?.n).toBeGreaterThan(0);
    expect(synced?.n).toBeLessThanOrEqual(8);

    stack.startWorker('survivor');
    await stack.drained(60_000);
    expect(await listUnsynced(stack.tenantDb, patientId)).toEqual([]);
    const audit = await auditEhr(stack.db, stack.sandbox.url);
    expect(audit.duplicates).toEqual([]);
    expect(audit.missing).toEqual([]);
    expect(audit.ehr).toEqual(audit.local);
    const all = (await Promise.all(Object.keys(audit.local).map((t) => everything(stack.sandbox.url, t)))).flat();
    expect(danglingReferences(all)).toEqual([]);
  });
});
