import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bundle, Patient, Subscription } from '@medplum/fhirtypes';
import type { RunningSandbox } from './start';
import { startSandbox } from './start';
import { fhirClient } from './testing/fhir-fetch';

interface Hook {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

describe('classic rest-hook Subscriptions', () => {
  let sandbox: RunningSandbox;
  let fhir: ReturnType<typeof fhirClient>;
  let receiver: Server;
  let base: string;
  const hooks: Hook[] = [];

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, restHooks: true });
    fhir = fhirClient(sandbox.url);
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        hooks.push({ path: req.url ?? '', headers: req.headers, body });
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await sandbox.close();
    await new Promise<void>((r) => receiver.close(() => r()));
  });
  beforeEach(() => {
    sandbox.sandbox.reset();
    hooks.length = 0;
  });

  const waitFor = async (n: number): Promise<void> => {
    for (let i = 0; i < 200 && hooks.length < n; i++) await new Promise((r) => setTimeout(r, 50));
    expect(hooks.length).toBeGreaterThanOrEqual(n);
  };
  const subscribe = (path: string, criteria: string, extra: Partial<Subscription> = {}, channel: Partial<Subscription['channel']> = {}) =>
    fhir.post<Subscription>('Subscription', {
      resourceType: 'Subscription',
      status: 'active',
      reason: 'test',
      criteria,
      ...extra,
      channel: { type: 'rest-hook', endpoint: `${base}${path}`, payload: 'application/fhir+json', ...channel },
    } as Subscription);

  it('posts a matching version with its headers and signature; a version that does not match fires nothing', async () => {
    await subscribe(
      '/signed',
      'Patient?deceased=true',
      { extension: [{ url: 'https://www.medplum.com/fhir/StructureDefinition/subscription-secret', valueString: 's3' }] },
      { header: ['Authorization: Bearer abc'] },
    );
    const alive = await fhir.post<Patient>('Patient', { resourceType: 'Patient', name: [{ family: 'Alive' }] });
    const dead = await fhir.put<Patient>(`Patient/${alive.body.id}`, { ...alive.body, deceasedDateTime: '2026-12-07T01:00:00Z' });
    await waitFor(1);
    expect(hooks).toHaveLength(1);
    const hook = hooks[0] as Hook;
    expect(hook.path).toBe('/signed');
    expect(hook.headers.authorization).toBe('Bearer abc');
    expect(hook.headers['content-type']).toBe('application/fhir+json');
    expect(JSON.parse(hook.body)).toMatchObject({
      resourceType: 'Patient',
      id: alive.body.id,
      meta: { versionId: dead.body.meta?.versionId },
    });
    expect(hook.headers['x-signature']).toBe(createHmac('sha256', 's3').update(hook.body).digest('hex'));
  });

  it('sends a ping (empty body) for a Subscription without payload, and nothing for a rolled-back transaction', async () => {
    await subscribe('/ping', 'Encounter?status=finished', {}, { payload: undefined });
    const failed = await fhir.post<Bundle>('', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          resource: { resourceType: 'Encounter', status: 'finished', class: { code: 'IMP' } },
          request: { method: 'POST', url: 'Encounter' },
        },
        {
          resource: { resourceType: 'Observation', status: 'final', code: {}, subject: { reference: 'Patient/missing' } },
          request: { method: 'POST', url: 'Observation' },
        },
      ],
    } as Bundle);
    expect(failed.status).toBeGreaterThanOrEqual(400);
    await fhir.post('Encounter', { resourceType: 'Encounter', status: 'finished', class: { code: 'IMP' } });
    await waitFor(1);
    // The committed Encounter's ping came; give a rolled-back one every chance to show up too.
    await new Promise((r) => setTimeout(r, 500));
    expect(hooks.map((h) => [h.path, h.body])).toEqual([['/ping', '']]);
  });
});
