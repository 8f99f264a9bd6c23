import type { Observation, Patient } from '@medplum/fhirtypes';
import {
  listPatientResources,
  listResourceHistory,
  putResources,
  readResource,
  readResources,
  readResourceVersion,
  searchResources,
} from './resources';
import { openTestDb, type TestDb } from './test-support';

const MRN = 'urn:oid:1.2.3.4.mrn';

function observation(id: string, patientId: string, value: number): Observation {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { text: 'heart rate' },
    subject: { reference: `Patient/${patientId}` },
    valueQuantity: { value, unit: '/min' },
  };
}

describe('resources', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb('store_resources');
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it('versions each change, keeps history, and ignores resends of the same content', async () => {
    const [v1] = await putResources(t.db, [observation('obs-1', 'p1', 70)]);
    expect(v1?.meta?.versionId).toBe('1');
    expect(v1?.meta?.lastUpdated).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);

    // Same content, different key order and a stale meta: no new version.
    const resend: Observation = {
      valueQuantity: { unit: '/min', value: 70 },
      subject: { reference: 'Patient/p1' },
      code: { text: 'heart rate' },
      status: 'final',
      id: 'obs-1',
      resourceType: 'Observation',
      meta: { versionId: '42', lastUpdated: '2000-01-01T00:00:00Z' },
    };
    const [same] = await putResources(t.db, [resend]);
    expect(same?.meta).toEqual(v1?.meta);

    const [v2] = await putResources(t.db, [observation('obs-1', 'p1', 72)]);
    expect(v2?.meta?.versionId).toBe('2');
    expect(await readResource<Observation>(t.db, 'Observation', 'obs-1')).toEqual(v2);
    expect((await readResourceVersion<Observation>(t.db, 'Observation', 'obs-1', '1'))?.valueQuantity?.value).toBe(70);
    expect((await readResourceVersion<Observation>(t.db, 'Observation', 'obs-1', 2))?.valueQuantity?.value).toBe(72);
    expect(await readResourceVersion(t.db, 'Observation', 'obs-1', '3')).toBeUndefined();
    expect(await readResourceVersion(t.db, 'Observation', 'obs-1', 'abc')).toBeUndefined();
    expect((await listResourceHistory(t.db, 'Observation', 'obs-1')).map((r) => r.meta?.versionId)).toEqual(['1', '2']);
    expect(await readResource(t.db, 'Observation', 'missing')).toBeUndefined();
  });

  it('a change to other meta elements (profile) is a new version', async () => {
    await putResources(t.db, [observation('obs-meta', 'p1', 1)]);
    const [changed] = await putResources<Observation>(t.db, [
      { ...observation('obs-meta', 'p1', 1), meta: { profile: ['http://example.org/p'] } },
    ]);
    expect(changed?.meta?.versionId).toBe('2');
    expect(changed?.meta?.profile).toEqual(['http://example.org/p']);
  });

  it('assigns an id when missing and derives patient_id from the subject or the Patient itself', async () => {
    const patient: Patient = { resourceType: 'Patient', id: 'p-derive', identifier: [{ system: MRN, value: 'D-1' }] };
    const [storedPatient, obs] = await putResources(t.db, [
      patient,
      { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p-derive' } },
    ]);
    expect(storedPatient?.id).toBe('p-derive');
    expect(obs?.id).toMatch(/^[0-9a-f-]{36}$/);
    const mine = await listPatientResources(t.db, 'p-derive');
    // Both rows share a timestamp when written in one millisecond, so their order is not the point.
    expect(mine.map((r) => `${r.resourceType}/${r.id}`).sort()).toEqual([`Observation/${obs?.id}`, 'Patient/p-derive'].sort());
  });

  it('an explicit patientId wins over derivation', async () => {
    await putResources(t.db, [{ resourceType: 'Questionnaire', id: 'q-1', status: 'active' }], { patientId: 'p-explicit' });
    expect((await listPatientResources(t.db, 'p-explicit')).map((r) => r.id)).toEqual(['q-1']);
  });

  it('searches by patient and by identifier, with paging ordered by last_updated then id', async () => {
    await putResources(t.db, [observation('s-b', 'p-search', 1)]);
    await putResources(t.db, [observation('s-a', 'p-search', 2), observation('s-c', 'p-search', 3)]);
    await putResources(t.db, [observation('s-other', 'p-other', 4)]);

    const all = await searchResources(t.db, 'Observation', { patient: 'p-search' });
    expect(all.total).toBe(3);
    expect(all.resources.map((r) => r.id)).toEqual(['s-b', 's-a', 's-c']);

    const page = await searchResources(t.db, 'Observation', { patient: 'p-search', count: 1, offset: 1 });
    expect(page.total).toBe(3);
    expect(page.resources.map((r) => r.id)).toEqual(['s-a']);
    // Past the last page: no rows, and still the total.
    expect(await searchResources(t.db, 'Observation', { patient: 'p-search', count: 2, offset: 5 })).toEqual({ total: 3, resources: [] });
    expect((await searchResources(t.db, 'Observation', { patient: 'p-search', count: 0 })).total).toBe(3);

    await putResources(t.db, [
      {
        resourceType: 'Patient',
        id: 'p-ident',
        identifier: [
          { system: 'other', value: 'X' },
          { system: MRN, value: 'I-1' },
        ],
      },
    ]);
    const bySystemValue = await searchResources(t.db, 'Patient', { identifier: { system: MRN, value: 'I-1' } });
    expect(bySystemValue.resources.map((r) => r.id)).toEqual(['p-ident']);
    const byValue = await searchResources(t.db, 'Patient', { identifier: { value: 'I-1' } });
    expect(byValue.total).toBe(1);
    const wrongSystem = await searchResources(t.db, 'Patient', { identifier: { system: 'other', value: 'I-1' } });
    expect(wrongSystem).toEqual({ total: 0, resources: [] });
  });

  it('writes nothing when the surrounding transaction rolls back', async () => {
    await expect(
      t.db.transaction(async (tx) => {
        await putResources(tx, [observation('rolled-back', 'p1', 1)]);
        expect(await readResource(tx, 'Observation', 'rolled-back')).toBeDefined();
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await readResource(t.db, 'Observation', 'rolled-back')).toBeUndefined();
    expect(await listResourceHistory(t.db, 'Observation', 'rolled-back')).toEqual([]);
  });

  it('one call writes new, changed and unchanged resources together, each by the same rules', async () => {
    await putResources(t.db, [observation('mix-same', 'p-mix', 1), observation('mix-changed', 'p-mix', 1)]);
    const stored = await putResources(t.db, [
      observation('mix-new', 'p-mix', 1),
      observation('mix-same', 'p-mix', 1),
      observation('mix-changed', 'p-mix', 2),
    ]);
    expect(stored.map((r) => `${r.id}@${r.meta?.versionId}`)).toEqual(['mix-new@1', 'mix-same@1', 'mix-changed@2']);
    for (const r of stored) expect(await readResource(t.db, 'Observation', r.id as string)).toEqual(r);
    expect((await listResourceHistory(t.db, 'Observation', 'mix-changed')).map((r) => r.meta?.versionId)).toEqual(['1', '2']);
    expect(await listResourceHistory(t.db, 'Observation', 'mix-same')).toHaveLength(1);
    expect((await listPatientResources(t.db, 'p-mix')).map((r) => r.id).sort()).toEqual(['mix-changed', 'mix-new', 'mix-same']);
  });

  it('reads several current resources of a type in one call, leaving out the missing', async () => {
    await putResources(t.db, [observation('r-1', 'p1', 1), observation('r-2', 'p1', 2)]);
    const found = await readResources<Observation>(t.db, 'Observation', ['r-1', 'r-2', 'r-missing']);
    expect([...found.keys()].sort()).toEqual(['r-1', 'r-2']);
    expect(found.get('r-2')).toEqual(await readResource(t.db, 'Observation', 'r-2'));
    expect((await readResources(t.db, 'Patient', ['r-1'])).size).toBe(0);
  });

  it('resources written in one call keep the order given (the sync writes by last_updated)', async () => {
    await putResources(t.db, [observation('ord-b', 'p-order', 1), observation('ord-c', 'p-order', 1), observation('ord-a', 'p-order', 1)]);
    expect((await listPatientResources(t.db, 'p-order')).map((r) => r.id)).toEqual(['ord-b', 'ord-c', 'ord-a']);
  });

  it('the same id twice in one call is written in order: versions 1 and 2', async () => {
    const stored = await putResources(t.db, [observation('twice', 'p1', 1), observation('twice', 'p1', 2)]);
    expect(stored.map((r) => r.meta?.versionId)).toEqual(['1', '2']);
    expect((await readResource<Observation>(t.db, 'Observation', 'twice'))?.valueQuantity?.value).toBe(2);
  });

  it('concurrent batches over the same ids all land, each change a version of its own', async () => {
    const batch = (value: number): Observation[] => ['b-1', 'b-2', 'b-3'].map((id) => observation(id, 'p1', value));
    await Promise.all([1, 2, 3, 4].map((v) => putResources(t.db, v % 2 === 0 ? batch(v).reverse() : batch(v))));
    for (const id of ['b-1', 'b-2', 'b-3']) {
      expect((await listResourceHistory(t.db, 'Observation', id)).map((r) => r.meta?.versionId)).toEqual(['1', '2', '3', '4']);
    }
  });

  it('concurrent first writes of one id yield versions 1 and 2, never an error', async () => {
    const results = await Promise.all([
      putResources(t.db, [observation('race', 'p1', 1)]),
      putResources(t.db, [observation('race', 'p1', 2)]),
    ]);
    const versions = results.map((r) => r[0]?.meta?.versionId).sort();
    expect(versions).toEqual(['1', '2']);
    expect(await listResourceHistory(t.db, 'Observation', 'race')).toHaveLength(2);
  });
});
