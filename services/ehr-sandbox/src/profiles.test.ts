import type { Bundle, BundleEntry, CapabilityStatement, OperationOutcome, Patient } from '@medplum/fhirtypes';
import type { RunningSandbox, StartSandboxOptions } from './start';
import { startSandbox } from './start';
import { fhirClient } from './testing/fhir-fetch';
import { sandboxPolicyFromEnv } from './fhir/policy';

const SYSTEM = 'urn:kap:test:patient';
const create = (value: string, i: number): BundleEntry => ({
  fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  resource: { resourceType: 'Patient', identifier: [{ system: SYSTEM, value }] } as Patient,
  request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${SYSTEM}|${value}` },
});
const bundle = (type: 'transaction' | 'batch', entry: BundleEntry[]): Bundle => ({ resourceType: 'Bundle', type, entry });

async function withSandbox(options: Omit<StartSandboxOptions, 'port'>, run: (server: RunningSandbox) => Promise<void>): Promise<void> {
  const server = await startSandbox({ port: 0, ...options });
  try {
    await run(server);
  } finally {
    await server.close();
  }
}

describe('sandbox strictness and profiles', () => {
  test('default: states transactions and every R4 type, with no identifier search on AdverseEvent or Provenance', async () => {
    await withSandbox({}, async (server) => {
      const fhir = fhirClient(server.url);
      const statement = (await fhir.get<CapabilityStatement>('metadata')).body;
      const rest = statement.rest?.[0];
      expect(rest?.interaction?.map((i) => i.code)).toEqual(['transaction', 'batch']);
      const byType = new Map(rest?.resource?.map((r) => [r.type, r]));
      expect(byType.get('AdverseEvent')?.searchParam?.map((p) => p.name)).not.toContain('identifier');
      expect(byType.get('AdverseEvent')?.searchParam?.map((p) => p.name)).toContain('_tag');
      expect(byType.get('Provenance')?.searchParam?.map((p) => p.name)).not.toContain('identifier');
      expect(byType.get('Task')?.searchParam?.map((p) => p.name)).toContain('identifier');
      expect(byType.get('Task')?.updateCreate).toBe(false);
      expect(rest?.documentation).toContain('at most 8 entries');

      // A conditional create on a search parameter R4 does not define is refused, not a silent duplicate.
      const refused = await fhir.post<OperationOutcome>(
        'AdverseEvent',
        { resourceType: 'AdverseEvent', actuality: 'actual', subject: { display: 'x' } },
        { 'If-None-Exist': 'identifier=a|b' },
      );
      expect(refused.status).toBe(400);
      expect(JSON.stringify(refused.body)).toContain('identifier');
      expect(server.sandbox.stats().resources).toEqual({});
    });
  });

  test('default: more than 50 updates in a transaction are refused', async () => {
    await withSandbox({}, async (server) => {
      const fhir = fhirClient(server.url);
      const ids: string[] = [];
      for (let i = 0; i < 51; i++) ids.push((await fhir.post<Patient>('Patient', { resourceType: 'Patient' })).body.id as string);
      const updates = ids.map((id) => ({
        resource: { resourceType: 'Patient', id, gender: 'other' } as Patient,
        request: { method: 'PUT' as const, url: `Patient/${id}` },
      }));
      const res = await fhir.post<OperationOutcome>('', bundle('transaction', updates));
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).toContain('Transaction contains more update operations than allowed');
      expect((await fhir.post<Bundle>('', bundle('transaction', updates.slice(0, 50)))).status).toBe(200);
    });
  });

  test('another transaction limit', async () => {
    await withSandbox({ maxTransactionEntries: 3 }, async (server) => {
      const fhir = fhirClient(server.url);
      expect(
        (
          await fhir.post(
            '',
            bundle(
              'transaction',
              [0, 1, 2, 3].map((i) => create(`l${i}`, i)),
            ),
          )
        ).status,
      ).toBe(400);
      expect(
        (
          await fhir.post(
            '',
            bundle(
              'transaction',
              [0, 1, 2].map((i) => create(`l${i}`, i)),
            ),
          )
        ).status,
      ).toBe(200);
    });
  });

  test('no-transactions: states none, refuses Bundles, takes single writes', async () => {
    await withSandbox({ profile: 'no-transactions' }, async (server) => {
      const fhir = fhirClient(server.url);
      const rest = (await fhir.get<CapabilityStatement>('metadata')).body.rest?.[0];
      expect(rest?.interaction).toBeUndefined();
      expect((await fhir.post('', bundle('transaction', [create('n', 0)]))).status).toBe(400);
      expect((await fhir.post('', bundle('batch', [create('n', 0)]))).status).toBe(400);
      expect((await fhir.post('Patient', { resourceType: 'Patient' })).status).toBe(201);
    });
  });

  test('limited-types: states only the types it takes, and refuses the others', async () => {
    await withSandbox({ profile: 'limited-types' }, async (server) => {
      const fhir = fhirClient(server.url);
      const types = (await fhir.get<CapabilityStatement>('metadata')).body.rest?.[0]?.resource?.map((r) => r.type);
      expect(types).toContain('CarePlan');
      expect(types).not.toContain('Observation');
      expect((await fhir.post('Observation', { resourceType: 'Observation', status: 'final', code: { text: 'x' } })).status).toBe(404);
      expect((await fhir.get('Observation?code=x')).status).toBe(404);
      const tx = bundle('transaction', [
        {
          resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' } },
          request: { method: 'POST', url: 'Observation' },
        },
      ]);
      expect((await fhir.post('', tx)).status).toBe(400);
      expect(server.sandbox.stats().resources).toEqual({});
    });
  });

  test('non-atomic transactions answer 200 with a failed entry and keep the rest, as Medplum without transaction-bundles', async () => {
    await withSandbox({ nonAtomicTransactions: true }, async (server) => {
      const fhir = fhirClient(server.url);
      const res = await fhir.post<Bundle>(
        '',
        bundle('transaction', [
          create('ok', 0),
          { resource: { resourceType: 'Patient', id: 'nope' } as Patient, request: { method: 'PUT', url: 'Patient/nope' } },
        ]),
      );
      expect(res.status).toBe(200);
      expect(res.body.type).toBe('transaction-response');
      expect(res.body.entry?.map((e) => e.response?.status)).toEqual(['201', '404']);
      expect(server.sandbox.stats().resources).toEqual({ Patient: 1 });
    });
  });

  test('profiles from the environment', () => {
    expect(sandboxPolicyFromEnv({ SANDBOX_PROFILE: 'limited-types', SANDBOX_MAX_TRANSACTION_ENTRIES: '20' })).toEqual({
      profile: 'limited-types',
      maxTransactionEntries: 20,
    });
    expect(() => sandboxPolicyFromEnv({ SANDBOX_PROFILE: 'lenient' })).toThrow(/SANDBOX_PROFILE/);
    expect(() => sandboxPolicyFromEnv({ SANDBOX_MAX_TRANSACTION_ENTRIES: '0' })).toThrow(/SANDBOX_MAX_TRANSACTION_ENTRIES/);
    expect(sandboxPolicyFromEnv({ SANDBOX_LATENCY_MS: '40' })).toEqual({ profile: 'default', latencyMs: 40 });
    expect(() => sandboxPolicyFromEnv({ SANDBOX_LATENCY_MS: 'soon' })).toThrow(/SANDBOX_LATENCY_MS/);
  });

  test('with a latency, two identical conditional creates at once still make one', async () => {
    await withSandbox({ latencyMs: 50 }, async (server) => {
      const fhir = fhirClient(server.url);
      const patient = { resourceType: 'Patient', identifier: [{ system: SYSTEM, value: 'same' }] } as Patient;
      const answers = await Promise.all(
        [1, 2].map(() => fhir.post<Patient>('Patient', patient, { 'If-None-Exist': `identifier=${SYSTEM}|same` })),
      );
      expect(answers.map((a) => a.status).sort()).toEqual([200, 201]);
      expect(server.sandbox.stats().resources).toEqual({ Patient: 1 });
    });
  });
});
