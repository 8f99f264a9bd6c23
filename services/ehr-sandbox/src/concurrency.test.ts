import type { Bundle, BundleEntry, Patient } from '@medplum/fhirtypes';
import type { RunningSandbox } from './start';
import { startSandbox } from './start';
import { KeyedLock } from './store/keyed-lock';
import { fhirClient } from './testing/fhir-fetch';

const SYSTEM = 'urn:kap:test:patient';
const COUNTER = 'urn:kap:test:counter';
const patient = (value: string): Patient => ({ resourceType: 'Patient', identifier: [{ system: SYSTEM, value }] });

/** Lets every pending I/O callback and promise run; no wall-clock time is measured. */
const settle = async (rounds = 20): Promise<void> => {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('KeyedLock', () => {
  test('disjoint keys run side by side; the same key waits its turn', async () => {
    const locks = new KeyedLock();
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const order: string[] = [];
    const a = locks.run(['Patient/a'], async () => {
      order.push('a starts');
      await gate;
      order.push('a ends');
    });
    const sameKey = locks.run(['Patient/a'], async () => void order.push('a2 runs'));
    // B holds a different identity: it must run while A still waits on the gate.
    const b = locks.run(['Patient/b'], async () => void order.push('b runs'));
    await b;
    await settle();
    expect(order).toEqual(['a starts', 'b runs']);
    openGate();
    await Promise.all([a, sameKey]);
    expect(order).toEqual(['a starts', 'b runs', 'a ends', 'a2 runs']);
    expect(locks.size).toBe(0);
  });

  test('overlapping key sets taken in any order do not deadlock, and a failed task releases', async () => {
    const locks = new KeyedLock();
    const runs = Array.from({ length: 50 }, (_, i) =>
      locks
        .run(i % 2 ? ['x', 'y'] : ['y', 'x'], async () => {
          await settle(1);
          if (i % 7 === 0) throw new Error('boom');
          return i;
        })
        .catch(() => -1),
    );
    expect((await Promise.all(runs)).filter((r) => r >= 0)).toHaveLength(42);
    expect(locks.size).toBe(0);
  });
});

describe('concurrent HTTP requests: no duplicate, no lost update', () => {
  let server: RunningSandbox;
  let fhir: ReturnType<typeof fhirClient>;
  beforeAll(async () => {
    server = await startSandbox({ port: 0 });
    fhir = fhirClient(server.url);
  });
  afterAll(() => server.close());

  test('conditional creates of the same identity, single and in transactions, make one resource each', async () => {
    const identities = Array.from({ length: 12 }, (_, i) => `cc-${i}`);
    const requests = identities.flatMap((value, i) =>
      Array.from({ length: 4 }, (_, j) => {
        if ((i + j) % 2 === 0) {
          return fhir.post('Patient', patient(value), { 'If-None-Exist': `identifier=${SYSTEM}|${value}` });
        }
        const entry: BundleEntry = {
          fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i * 10 + j).padStart(12, '0')}`,
          resource: patient(value),
          request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${SYSTEM}|${value}` },
        };
        return fhir.post<Bundle>('', { resourceType: 'Bundle', type: 'transaction', entry: [entry] });
      }),
    );
    const replies = await Promise.all(requests);
    expect(replies.every((r) => r.status === 200 || r.status === 201)).toBe(true);
    for (const value of identities) {
      const found = await fhir.get<Bundle>(`Patient?identifier=${encodeURIComponent(`${SYSTEM}|${value}`)}`);
      expect(found.body.total).toBe(1);
    }
  });

  test('If-Match read-modify-write from many clients loses no increment', async () => {
    const created = await fhir.post<Patient>('Patient', { ...patient('counter'), extension: [{ url: COUNTER, valueInteger: 0 }] });
    const id = created.body.id as string;
    const clients = 6;
    const incrementsEach = 5;
    let conflicts = 0;
    const increment = async (): Promise<void> => {
      for (;;) {
        const current = await fhir.get<Patient>(`Patient/${id}`);
        const value = current.body.extension?.[0]?.valueInteger ?? 0;
        const next = { ...current.body, extension: [{ url: COUNTER, valueInteger: value + 1 }] };
        const res = await fhir.put(`Patient/${id}`, next, { 'If-Match': current.headers.get('etag') as string });
        if (res.status === 200) return;
        expect(res.status).toBe(412);
        conflicts++;
      }
    };
    await Promise.all(
      Array.from({ length: clients }, async () => {
        for (let i = 0; i < incrementsEach; i++) await increment();
      }),
    );
    const final = await fhir.get<Patient>(`Patient/${id}`);
    expect(final.body.extension?.[0]?.valueInteger).toBe(clients * incrementsEach);
    const history = await fhir.get<Bundle>(`Patient/${id}/_history`);
    expect(history.body.total).toBe(clients * incrementsEach + 1);
    // Conflicts are how a lost update is prevented; how many depends on scheduling.
    expect(conflicts).toBeGreaterThanOrEqual(0);
  });

  test('a transaction that rolls back undoes only its own writes, not those of requests beside it', async () => {
    const target = await fhir.post<Patient>('Patient', patient('rb-target'));
    const staleEtag = target.headers.get('etag') as string;
    await fhir.put(`Patient/${target.body.id}`, { ...target.body, gender: 'other' });
    const failing = Array.from({ length: 6 }, (_, i) =>
      fhir.post('', {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { resource: patient(`rb-lost-${i}`), request: { method: 'POST', url: 'Patient' } },
          {
            resource: { ...target.body, gender: 'female' },
            request: { method: 'PUT', url: `Patient/${target.body.id}`, ifMatch: staleEtag },
          },
        ],
      }),
    );
    const beside = Array.from({ length: 12 }, (_, i) =>
      fhir.post('Patient', patient(`rb-kept-${i}`), { 'If-None-Exist': `identifier=${SYSTEM}|rb-kept-${i}` }),
    );
    const [failed, kept] = await Promise.all([Promise.all(failing), Promise.all(beside)]);
    expect(failed.map((r) => r.status)).toEqual(Array(6).fill(412));
    expect(kept.map((r) => r.status)).toEqual(Array(12).fill(201));
    for (let i = 0; i < 12; i++) {
      expect((await fhir.get<Bundle>(`Patient?identifier=${encodeURIComponent(`${SYSTEM}|rb-kept-${i}`)}`)).body.total).toBe(1);
    }
    for (let i = 0; i < 6; i++) {
      expect((await fhir.get<Bundle>(`Patient?identifier=${encodeURIComponent(`${SYSTEM}|rb-lost-${i}`)}`)).body.total).toBe(0);
    }
    expect((await fhir.get<Patient>(`Patient/${target.body.id}`)).body.gender).toBe('other');
  });
});
