import type { Bundle, OperationOutcome, Patient } from '@medplum/fhirtypes';
import type { RunningSandbox } from './start';
import { startSandbox } from './start';
import { fhirClient } from './testing/fhir-fetch';

describe('fault injection', () => {
  let server: RunningSandbox;
  let fhir: ReturnType<typeof fhirClient>;
  const admin = (method: string, path: string, body?: unknown): Promise<Response> =>
    fetch(`${server.rootUrl}/__admin/${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  beforeAll(async () => {
    server = await startSandbox({ port: 0 });
    fhir = fhirClient(server.url);
  });
  afterAll(() => server.close());
  beforeEach(() => server.sandbox.reset());

  test('the next `count` requests fail with Retry-After and change nothing', async () => {
    expect((await admin('POST', 'faults', { status: 429, count: 2, retryAfter: 3 })).status).toBe(201);
    for (let i = 0; i < 2; i++) {
      const res = await fhir.post<OperationOutcome>('Patient', { resourceType: 'Patient' });
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('3');
      expect(res.body.issue[0]?.code).toBe('throttled');
    }
    expect((await fhir.post('Patient', { resourceType: 'Patient' })).status).toBe(201);
    const stats = (await (await admin('GET', 'stats')).json()) as {
      requests: { byMethodAndStatus: Record<string, number> };
      resources: Record<string, number>;
    };
    expect(stats.requests.byMethodAndStatus).toEqual({ 'POST 429': 2, 'POST 201': 1 });
    expect(stats.resources).toEqual({ Patient: 1 });
  });

  test('match: transaction spares other requests; DELETE disarms', async () => {
    server.sandbox.injectFault({ status: 503, durationMs: 60_000, match: 'transaction' });
    expect((await fhir.get('Patient?_count=1')).status).toBe(200);
    const tx: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { resourceType: 'Patient' } as Patient, request: { method: 'POST', url: 'Patient' } }],
    };
    expect((await fhir.post('', tx)).status).toBe(503);
    expect((await fhir.post('', tx)).status).toBe(503);
    expect((await admin('DELETE', 'faults')).status).toBe(204);
    expect((await fhir.post('', tx)).status).toBe(200);
  });

  test('delayMs answers slowly', async () => {
    // Once only: the delayed request is overtaken by one sent after it.
    server.sandbox.injectFault({ delayMs: 1000 });
    const order: string[] = [];
    const slow = fhir.get('metadata').then((r) => order.push(`metadata ${r.status}`));
    await new Promise((r) => setImmediate(r));
    await fhir.get('Patient').then((r) => order.push(`Patient ${r.status}`));
    await slow;
    expect(order).toEqual(['Patient 200', 'metadata 200']);
  });

  test('reset clears data; bad fault specs are 400', async () => {
    await fhir.post('Patient', { resourceType: 'Patient' });
    expect((await admin('POST', 'reset')).status).toBe(204);
    expect(server.sandbox.stats().resources).toEqual({});
    expect((await admin('POST', 'faults', { status: 418 })).status).toBe(400);
  });
});
