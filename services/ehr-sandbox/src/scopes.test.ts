import type { Bundle, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { grantFromScope } from './auth/scopes';
import type { RunningSandbox, StartSandboxOptions } from './start';
import { startSandbox } from './start';
import { fhirClient } from './testing/fhir-fetch';

const CLIENT = { mode: 'oauth', clientId: 'kap', clientSecret: 'shh' } as const;
const SYSTEM = 'urn:kap:test:patient';
const patient = (value: string): Patient => ({ resourceType: 'Patient', identifier: [{ system: SYSTEM, value }] });
const observation = (patientRef: string) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  subject: { reference: patientRef },
  valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
});

interface TokenReply {
  access_token: string;
  scope?: string;
}

async function token(server: RunningSandbox, scope?: string): Promise<TokenReply> {
  const res = await fetch(`${server.rootUrl}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: 'kap',
      client_secret: 'shh',
      ...(scope ? { scope } : {}),
    }).toString(),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as TokenReply;
}

async function client(server: RunningSandbox, scope?: string) {
  return fhirClient(server.url, { authorization: `Bearer ${(await token(server, scope)).access_token}` });
}

const text = (body: unknown): string => (body as OperationOutcome).issue?.map((i) => i.details?.text).join(' ') ?? '';

describe('scope semantics (Medplum 5.0.10, a client with full project access)', () => {
  const access = (scope: string | undefined, type: string) => grantFromScope(scope).access(type);

  test('the first wildcard scope decides for every type; per-type scopes beside a wildcard are ignored', () => {
    expect(access('system/*.read system/*.write', 'Patient')).toBe('read');
    expect(access('system/*.rs system/*.cud', 'Observation')).toBe('read');
    expect(access('system/*.rs system/Patient.cud', 'Patient')).toBe('read');
    expect(access('system/*.write system/*.read', 'Patient')).toBe('full');
    expect(access('system/*.*', 'Task')).toBe('full');
    expect(access('system/*.cruds', 'Task')).toBe('full');
    expect(access('user/*.rs', 'Task')).toBe('read');
  });

  test('without a wildcard, each named type gets its widest scope and others nothing', () => {
    expect(access('system/Patient.crus', 'Patient')).toBe('full');
    expect(access('system/Patient.crus', 'Observation')).toBe('none');
    expect(access('system/Patient.rs system/Patient.cud', 'Patient')).toBe('full');
    expect(access('system/Patient.rs', 'Patient')).toBe('read');
    expect(access('system/Patient.c', 'Patient')).toBe('full');
    expect(access('system/Patient.cruds?identifier=x|y', 'Patient')).toBe('full');
  });

  test('no SMART scope is full access', () => {
    expect(access(undefined, 'Patient')).toBe('full');
    expect(access('openid fhirUser', 'Patient')).toBe('full');
  });
});

describe('the sandbox enforces the scopes of the token it issued', () => {
  let server: RunningSandbox;
  beforeAll(async () => {
    server = await startSandbox({ port: 0, auth: CLIENT });
  });
  afterAll(() => server.close());

  test('system/*.read system/*.write (and *.rs *.cud) refuse every create with 403 naming type and interaction', async () => {
    for (const scope of ['system/*.read system/*.write', 'system/*.rs system/*.cud', 'system/*.rs system/Patient.cud']) {
      const fhir = await client(server, scope);
      const res = await fhir.post<OperationOutcome>('Patient', patient('rw'));
      expect(res.status).toBe(403);
      expect(res.body.issue[0]?.code).toBe('forbidden');
      expect(text(res.body)).toContain('create on Patient');
      expect(text(res.body)).toContain(scope);
      expect((await fhir.get<Bundle>('Patient')).status).toBe(200);
    }
    expect(server.sandbox.stats().resources).toEqual({});
  });

  test('system/*.write system/*.read, system/*.*, system/*.cruds and no scope write', async () => {
    for (const scope of ['system/*.write system/*.read', 'system/*.*', 'system/*.cruds', undefined]) {
      const fhir = await client(server, scope);
      expect((await fhir.post('Patient', patient(`w-${scope ?? 'none'}`))).status).toBe(201);
    }
  });

  test('read-only types refuse update and delete too, and allow read, search and history', async () => {
    const writer = await client(server, 'system/*.cruds');
    const created = (await writer.post<Patient>('Patient', patient('ro'))).body;
    const reader = await client(server, 'system/*.rs');
    expect((await reader.get(`Patient/${created.id}`)).status).toBe(200);
    expect((await reader.get(`Patient/${created.id}/_history`)).status).toBe(200);
    const update = await reader.put<OperationOutcome>(`Patient/${created.id}`, { ...created, gender: 'other' });
    expect(update.status).toBe(403);
    expect(text(update.body)).toContain('update on Patient');
    expect((await reader.delete(`Patient/${created.id}`)).status).toBe(403);
    expect((await reader.get<Patient>(`Patient/${created.id}`)).body.gender).toBeUndefined();
  });

  test('per-type scopes: the named type is written, an unnamed one is refused entirely', async () => {
    const fhir = await client(server, 'system/Patient.crus');
    const created = await fhir.post<Patient>('Patient', patient('typed'));
    expect(created.status).toBe(201);
    const search = await fhir.get<OperationOutcome>('Observation');
    expect(search.status).toBe(403);
    expect(text(search.body)).toContain('search-type on Observation');
    expect((await fhir.post('Observation', observation(`Patient/${created.body.id}`))).status).toBe(403);
    const split = await client(server, 'system/Patient.rs system/Patient.cud');
    expect((await split.post('Patient', patient('split'))).status).toBe(201);
  });

  test('a write claiming a profile needs StructureDefinition read, as Medplum validates the claim as the caller', async () => {
    const fhir = await client(server, 'system/Patient.crus system/Observation.crus');
    const created = await fhir.post<Patient>('Patient', patient('claims'));
    const claiming = {
      ...observation(`Patient/${created.body.id}`),
      meta: { profile: ['http://hl7.org/fhir/StructureDefinition/heartrate'] },
    };
    const refused = await fhir.post<OperationOutcome>('Observation', claiming);
    expect(refused.status).toBe(403);
    expect(text(refused.body)).toContain('cannot read StructureDefinition');
    expect((await fhir.post('Observation', observation(`Patient/${created.body.id}`))).status).toBe(201);
    const withProfiles = await client(server, 'system/Patient.crus system/Observation.crus system/StructureDefinition.rs');
    expect((await withProfiles.post('Observation', claiming)).status).not.toBe(403);
  });

  test('a transaction with one entry the token may not do is refused whole; a batch refuses that entry only', async () => {
    const fhir = await client(server, 'system/Patient.cruds');
    const before = server.sandbox.stats().resources;
    const entries = [
      {
        fullUrl: 'urn:uuid:6f7c3a52-8f0e-4d9c-9d5e-0a1b2c3d4e5f',
        resource: patient('tx'),
        request: { method: 'POST' as const, url: 'Patient' },
      },
      { resource: observation('urn:uuid:6f7c3a52-8f0e-4d9c-9d5e-0a1b2c3d4e5f'), request: { method: 'POST' as const, url: 'Observation' } },
    ];
    const tx = await fhir.post<OperationOutcome>('', { resourceType: 'Bundle', type: 'transaction', entry: entries });
    expect(tx.status).toBe(403);
    expect(tx.body.issue[0]?.expression).toEqual(['Bundle.entry[1]']);
    expect(text(tx.body)).toContain('create on Observation');
    expect(server.sandbox.stats().resources).toEqual(before);

    const batch = await fhir.post<Bundle>('', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [entries[1], { resource: patient('batch'), request: { method: 'POST', url: 'Patient' } }],
    });
    expect(batch.status).toBe(200);
    expect(batch.body.entry?.map((e) => e.response?.status)).toEqual(['403', '201']);
    expect(text(batch.body.entry?.[0]?.response?.outcome)).toContain('create on Observation');
  });
});

describe('a sandbox that grants less than asked', () => {
  const start = (options: Partial<StartSandboxOptions>) => startSandbox({ port: 0, auth: CLIENT, ...options });

  test('the token response names the granted scopes and the token is held to them', async () => {
    const server = await start({ grantScopes: 'system/Patient.rs system/Observation.cruds' });
    try {
      const reply = await token(server, 'system/*.cruds');
      expect(reply.scope).toBe('system/Patient.rs system/Observation.cruds');
      const fhir = fhirClient(server.url, { authorization: `Bearer ${reply.access_token}` });
      const refused = await fhir.post<OperationOutcome>('Patient', patient('less'));
      expect(refused.status).toBe(403);
      expect(text(refused.body)).toContain('create on Patient');
      expect((await fhir.get('Patient')).status).toBe(200);
      expect((await fhir.get('Task')).status).toBe(403);
    } finally {
      await server.close();
    }
  });

  test('a token asked without scope is full access; the response says what was asked otherwise', async () => {
    const server = await start({});
    try {
      expect((await token(server, 'system/Patient.rs')).scope).toBe('system/Patient.rs');
      expect((await token(server)).scope).toBe('system/*.*');
    } finally {
      await server.close();
    }
  });
});
