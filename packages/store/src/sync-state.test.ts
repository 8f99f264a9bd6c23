import type { Resource } from '@medplum/fhirtypes';
import { putResources } from './resources';
import {
  SYNC_STATUSES,
  getSyncStates,
  listUnsynced,
  markFailed,
  markNotSent,
  markPending,
  markSynced,
  markSyncedMany,
  recordEhrCopy,
  toVersionRefs,
} from './sync-state';
import { openTestDb, type TestDb } from './test-support';

describe('sync state', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb('store_sync');
  });
  afterAll(async () => {
    await t.cleanup();
  });

  const key = { type: 'Observation', id: 'o1' };

  it('allows in the database exactly the statuses the code knows', async () => {
    const [row] = await t.db.query<{ def: string }>(
      "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'sync_state_status_check' AND connamespace = to_regnamespace(current_schema())",
    );
    const allowed = [...(row?.def ?? '').matchAll(/'([^']+)'/g)].map((m) => m[1]);
    expect(allowed.sort()).toEqual([...SYNC_STATUSES].sort());
  });

  it('moves forward only', async () => {
    await markPending(t.db, [{ ...key, version: 1 }]);
    expect((await getSyncStates(t.db, [key]))[0]).toMatchObject({ localVersion: 1, syncedVersion: null, status: 'pending' });

    await markPending(t.db, [{ ...key, version: 2 }]);
    // A late confirmation of version 1 does not mark version 2 synced.
    expect(await markSynced(t.db, { ...key, localVersion: 1, ehrId: 'ehr-o1', ehrVersion: 'v-a' })).toBe(true);
    expect((await getSyncStates(t.db, [key]))[0]).toMatchObject({
      localVersion: 2,
      syncedVersion: 1,
      status: 'pending',
      ehrVersion: 'v-a',
    });

    expect(await markSynced(t.db, { ...key, localVersion: 2, ehrId: 'ehr-o1', ehrVersion: '9b2c-uuid' })).toBe(true);
    expect((await getSyncStates(t.db, [key]))[0]).toMatchObject({
      localVersion: 2,
      syncedVersion: 2,
      status: 'synced',
      ehrVersion: '9b2c-uuid',
    });

    // Stale: version 1 again changes nothing, and never lowers local_version.
    expect(await markSynced(t.db, { ...key, localVersion: 1, ehrId: 'ehr-o1', ehrVersion: 'v-a' })).toBe(false);
    await markPending(t.db, [{ ...key, version: 1 }]);
    expect((await getSyncStates(t.db, [key]))[0]).toMatchObject({
      localVersion: 2,
      syncedVersion: 2,
      status: 'synced',
      ehrVersion: '9b2c-uuid',
    });
    // A stale failure is ignored too.
    expect(await markFailed(t.db, { ...key, localVersion: 2, error: 'late timeout' })).toBe(false);
  });

  it('markSyncedMany: many at once by the same rules, the newest of a key winning', async () => {
    const a = { type: 'Observation', id: 'many-a' };
    const b = { type: 'Observation', id: 'many-b' };
    const c = { type: 'Observation', id: 'many-c' };
    await markPending(t.db, [
      { ...a, version: 2 },
      { ...b, version: 1 },
      { ...c, version: 3 },
    ]);
    await markSynced(t.db, { ...c, localVersion: 3, ehrId: 'ehr-c', ehrVersion: 'c3' });
    const changed = await markSyncedMany(t.db, [
      { ...a, localVersion: 1, ehrId: 'ehr-a', ehrVersion: 'a1' },
      { ...a, localVersion: 2, ehrId: 'ehr-a', ehrVersion: 'a2' },
      { ...b, localVersion: 1, ehrId: 'ehr-b', ehrVersion: 'b1' },
      // Stale: c's version 3 is confirmed already.
      { ...c, localVersion: 2, ehrId: 'ehr-c', ehrVersion: 'c2' },
    ]);
    expect(changed).toBe(2);
    expect(await getSyncStates(t.db, [a, b, c])).toEqual([
      expect.objectContaining({ syncedVersion: 2, status: 'synced', ehrVersion: 'a2' }),
      expect.objectContaining({ syncedVersion: 1, status: 'synced', ehrVersion: 'b1' }),
      expect.objectContaining({ syncedVersion: 3, status: 'synced', ehrVersion: 'c3' }),
    ]);
    expect(await markSyncedMany(t.db, [])).toBe(0);
  });

  it('records failures for the pending version and clears them once synced', async () => {
    const other = { type: 'Observation', id: 'o2' };
    await markPending(t.db, [
      { ...other, version: 1 },
      { ...other, version: 3 },
      { ...other, version: 2 },
    ]);
    expect(await markFailed(t.db, { ...other, error: 'EHR 422' })).toBe(true);
    expect((await getSyncStates(t.db, [other]))[0]).toMatchObject({ localVersion: 3, status: 'failed', lastError: 'EHR 422' });
    expect(await markFailed(t.db, { type: 'Observation', id: 'unknown', error: 'x' })).toBe(false);
    await markSynced(t.db, { ...other, localVersion: 3, ehrId: 'e2', ehrVersion: null });
    expect(await getSyncStates(t.db, [other, key])).toMatchObject([
      { id: 'o2', status: 'synced', lastError: null, ehrVersion: null },
      { id: 'o1' },
    ]);
  });

  it('lists the resources of a patient whose stored version is newer than the synced one', async () => {
    const written = await putResources<Resource>(t.db, [
      { resourceType: 'Patient', id: 'sp' },
      { resourceType: 'Observation', id: 'sp-o1', status: 'final', code: { text: 'a' }, subject: { reference: 'Patient/sp' } },
      { resourceType: 'Observation', id: 'sp-o2', status: 'final', code: { text: 'b' }, subject: { reference: 'Patient/sp' } },
    ]);
    await markPending(t.db, toVersionRefs(written));
    await markSynced(t.db, { type: 'Patient', id: 'sp', localVersion: 1, ehrId: 'ehr-sp', ehrVersion: '1' });
    await markSynced(t.db, { type: 'Observation', id: 'sp-o1', localVersion: 1, ehrId: 'ehr-o1', ehrVersion: '1' });
    await putResources(t.db, [
      { resourceType: 'Observation', id: 'sp-o1', status: 'amended', code: { text: 'a' }, subject: { reference: 'Patient/sp' } },
    ]);
    const unsynced = await listUnsynced(t.db, 'sp');
    expect(unsynced.map((u) => [u.id, u.version, u.syncedVersion, u.ehrId])).toEqual([
      ['sp-o2', 1, null, null],
      ['sp-o1', 2, 1, 'ehr-o1'],
    ]);
    expect(unsynced[1]?.resource).toMatchObject({ status: 'amended' });
  });

  it('not-sent: a type the EHR does not take stays here with its reason, and a newer version is pending again', async () => {
    const flag = { type: 'Flag', id: 'f-not-sent' };
    await markPending(t.db, [{ ...flag, version: 1 }]);
    await markNotSent(t.db, [{ ...flag, version: 1 }], 'EHR does not take Flag: not in EHR_RESOURCE_TYPES');
    expect((await getSyncStates(t.db, [flag]))[0]).toMatchObject({
      status: 'not-sent',
      lastError: 'EHR does not take Flag: not in EHR_RESOURCE_TYPES',
    });
    await markPending(t.db, [{ ...flag, version: 2 }]);
    expect((await getSyncStates(t.db, [flag]))[0]).toMatchObject({ status: 'pending', localVersion: 2, lastError: null });
  });

  it('recordEhrCopy: the EHR id is kept without claiming the version is synced', async () => {
    const goal = { type: 'Goal', id: 'g-stub' };
    await markPending(t.db, [{ ...goal, version: 1 }]);
    await recordEhrCopy(t.db, { ...goal, localVersion: 1, ehrId: 'ehr-g', ehrVersion: 'uuid-1' });
    expect((await getSyncStates(t.db, [goal]))[0]).toMatchObject({
      status: 'pending',
      syncedVersion: null,
      ehrId: 'ehr-g',
      ehrVersion: 'uuid-1',
    });
  });
});
