import type { Patient } from '@medplum/fhirtypes';
import { ensurePatient } from './patients';
import { putResources, searchResources } from './resources';
import { openTestDb, type TestDb } from './test-support';

const MRN = 'urn:oid:1.2.3.4.mrn';

describe('ensurePatient', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb('store_patients');
  });
  afterAll(async () => {
    await t.cleanup();
  });

  const build = (): Patient => ({ resourceType: 'Patient', name: [{ family: 'Doe' }] });

  it('creates once, then finds; adds the identifier to the Patient', async () => {
    const first = await ensurePatient(t.db, { system: MRN, value: 'A-1' }, build);
    expect(first.created).toBe(true);
    expect(first.patient.identifier).toEqual([{ system: MRN, value: 'A-1' }]);
    expect(first.patient.meta?.versionId).toBe('1');
    const again = await ensurePatient(t.db, { system: MRN, value: 'A-1' }, () => {
      throw new Error('must not build when the patient exists');
    });
    expect(again).toEqual({ patient: first.patient, created: false });
  });

  it('with callerStoresNew, claims a new Patient for the caller to store in its transaction; concurrent callers get that one', async () => {
    const id = { system: MRN, value: 'DEFER-1' };
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    const claiming = t.db.transaction(async (tx) => {
      const claimed = await ensurePatient(tx, id, build, { callerStoresNew: true });
      expect(claimed.created).toBe(true);
      expect(claimed.patient.identifier).toEqual([id]);
      // Not stored yet: the caller's own write stores it.
      expect(await tx.query('SELECT 1 FROM resources WHERE resource_type = $1 AND id = $2', ['Patient', claimed.patient.id])).toEqual([]);
      await held;
      const [stored] = await putResources(tx, [claimed.patient]);
      return stored as Patient;
    });
    // A second caller waits on the claim, then reads what the first stored.
    const waiting = ensurePatient(t.db, id, build);
    await new Promise((r) => setTimeout(r, 100));
    release();
    const [stored, other] = await Promise.all([claiming, waiting]);
    expect(other).toEqual({ patient: stored, created: false });
  });

  it('gives exactly one Patient to 10 concurrent transactions', async () => {
    const identifier = { system: MRN, value: 'RACE-1' };
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        t.db.transaction(async (tx) => {
          const result = await ensurePatient(tx, identifier, () => ({ resourceType: 'Patient', id: `candidate-${i}` }));
          // Keep the transaction open a little so the others really overlap with it.
          await tx.query('SELECT pg_sleep(0.02)');
          return result;
        }),
      ),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.patient.id)).size).toBe(1);
    const found = await searchResources(t.db, 'Patient', { identifier });
    expect(found.total).toBe(1);
  });

  it('leaves nothing behind when the caller rolls back, and creates on the next try', async () => {
    const identifier = { system: MRN, value: 'RB-1' };
    await expect(
      t.db.transaction(async (tx) => {
        const { created } = await ensurePatient(tx, identifier, build);
        expect(created).toBe(true);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect((await searchResources(t.db, 'Patient', { identifier })).total).toBe(0);
    expect((await ensurePatient(t.db, identifier, build)).created).toBe(true);
  });
});
