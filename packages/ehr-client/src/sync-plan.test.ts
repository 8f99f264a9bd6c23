import type { Observation, Patient, Provenance, Resource } from '@medplum/fhirtypes';
import {
  syncIdentityKey,
  parseLocation,
  planSync,
  rewriteReferences,
  sameContent,
  syncedFromResponse,
  type SyncIdentity,
} from './sync-plan';

const OURS = 'https://example.org/sid/resource';
const HOSPITAL = 'urn:oid:2.16.840.1.113883.19.5.99999.1';

const patient: Patient = {
  resourceType: 'Patient',
  id: '11111111-1111-5111-8111-111111111111',
  meta: { versionId: '1', lastUpdated: '2026-01-01T00:00:00Z' },
  identifier: [{ system: HOSPITAL, value: 'SYN-1' }],
};
const obs = (id: string, value: number): Observation => ({
  resourceType: 'Observation',
  id,
  meta: { versionId: '1', profile: ['http://hl7.org/fhir/StructureDefinition/heartrate'] },
  identifier: [{ system: OURS, value: id }],
  status: 'final',
  code: { text: 'Heart rate' },
  subject: { reference: `Patient/${patient.id}` },
  valueQuantity: { value, unit: '/min' },
});
const provenance: Provenance = {
  resourceType: 'Provenance',
  id: '33333333-3333-5333-8333-333333333333',
  meta: { tag: [{ system: OURS, code: '33333333-3333-5333-8333-333333333333' }] },
  target: [{ reference: 'Observation/22222222-2222-5222-8222-222222222222' }],
  recorded: '2026-01-01T00:00:00Z',
  agent: [{ who: { display: 'adapter' } }],
};

const syncIdentityOf = (r: Resource): SyncIdentity => {
  if (r.resourceType === 'Provenance') return { by: 'tag', system: OURS, code: r.id as string };
  const id = (r as Patient).identifier?.[0];
  return { by: 'identifier', system: id?.system ?? '', value: id?.value ?? '' };
};

describe('planSync', () => {
  const o1 = obs('22222222-2222-5222-8222-222222222222', 72);

  it('creates what the EHR lacks, conditionally, with references to entries as urn:uuid', () => {
    const plan = planSync({
      resources: [
        { resource: patient, version: 1, createOnly: true },
        { resource: o1, version: 1 },
        { resource: provenance, version: 1 },
      ],
      syncIdentityOf,
      existing: new Map(),
      knownEhrCopies: new Map(),
    });
    expect(plan.resources.map((r) => r.action)).toEqual(['create', 'create', 'create']);
    const [p, o, prov] = plan.bundle?.entry ?? [];
    expect(p?.request).toEqual({ method: 'POST', url: 'Patient', ifNoneExist: `identifier=${encodeURIComponent(`${HOSPITAL}|SYN-1`)}` });
    expect(p?.fullUrl).toBe(`urn:uuid:${patient.id}`);
    expect(p?.resource?.id).toBeUndefined();
    expect(p?.resource?.meta).toBeUndefined();
    expect((o?.resource as Observation).subject?.reference).toBe(`urn:uuid:${patient.id}`);
    expect((o?.resource as Observation).meta).toEqual({ profile: ['http://hl7.org/fhir/StructureDefinition/heartrate'] });
    expect(prov?.request?.ifNoneExist).toBe(`_tag=${encodeURIComponent(`${OURS}|${provenance.id}`)}`);
    expect((prov?.resource as Provenance).target[0]?.reference).toBe(`urn:uuid:${o1.id}`);
  });

  it('leaves out what the EHR already holds unchanged, and references it by the EHR id', () => {
    const existing = new Map([
      [syncIdentityKey('Patient', syncIdentityOf(patient)), { resource: { ...patient, id: 'ehr-p', meta: { versionId: 'abc' } } }],
      [
        syncIdentityKey('Observation', syncIdentityOf(o1)),
        { resource: { ...rewriteReferences(o1, () => 'Patient/ehr-p'), id: 'ehr-o', meta: { versionId: 'v9' } }, etag: 'W/"v9"' },
      ],
    ]);
    const plan = planSync({
      resources: [
        { resource: patient, version: 1, createOnly: true },
        { resource: o1, version: 1 },
      ],
      syncIdentityOf,
      existing,
      knownEhrCopies: new Map(),
    });
    expect(plan.bundle).toBeUndefined();
    expect(plan.resources).toEqual([
      expect.objectContaining({ action: 'unchanged', ehrReference: 'Patient/ehr-p', ehrVersion: 'abc' }),
      expect.objectContaining({ action: 'unchanged', ehrReference: 'Observation/ehr-o', ehrVersion: 'v9' }),
    ]);
  });

  it('updates a changed resource under If-Match of the version read, never the hospital Patient', () => {
    const changed = obs(o1.id as string, 90);
    const existing = new Map([
      [syncIdentityKey('Patient', syncIdentityOf(patient)), { resource: { ...patient, id: 'ehr-p', name: [{ family: 'Other' }] } }],
      [syncIdentityKey('Observation', syncIdentityOf(o1)), { resource: { ...o1, id: 'ehr-o' }, etag: 'W/"7f3a-uuid"' }],
    ]);
    const plan = planSync({
      resources: [
        { resource: patient, version: 1, createOnly: true },
        { resource: changed, version: 2 },
      ],
      syncIdentityOf,
      existing,
      knownEhrCopies: new Map(),
    });
    expect(plan.resources.map((r) => r.action)).toEqual(['unchanged', 'update']);
    expect(plan.bundle?.entry).toHaveLength(1);
    expect(plan.bundle?.entry?.[0]?.request).toEqual({ method: 'PUT', url: 'Observation/ehr-o', ifMatch: 'W/"7f3a-uuid"' });
    expect(plan.bundle?.entry?.[0]?.resource).toMatchObject({ id: 'ehr-o', subject: { reference: 'Patient/ehr-p' } });
  });

  it('points references at resources synced earlier by their EHR ids', () => {
    const plan = planSync({
      resources: [{ resource: o1, version: 1 }],
      syncIdentityOf,
      existing: new Map(),
      knownEhrCopies: new Map([[`Patient/${patient.id}`, { reference: 'Patient/ehr-p', version: '1' }]]),
    });
    expect((plan.bundle?.entry?.[0]?.resource as Observation).subject?.reference).toBe('Patient/ehr-p');
  });

  it('updates what was synced before under If-Match of the version written then, without searching', () => {
    const changed = obs(o1.id as string, 95);
    const plan = planSync({
      resources: [
        { resource: patient, version: 1, createOnly: true },
        { resource: changed, version: 3 },
      ],
      syncIdentityOf,
      existing: new Map(),
      knownEhrCopies: new Map([
        [`Patient/${patient.id}`, { reference: 'Patient/ehr-p', version: 'a1' }],
        [`Observation/${o1.id}`, { reference: 'Observation/ehr-o', version: '7f3a' }],
      ]),
    });
    expect(plan.resources.map((r) => r.action)).toEqual(['unchanged', 'update']);
    expect(plan.bundle?.entry?.[0]?.request).toEqual({ method: 'PUT', url: 'Observation/ehr-o', ifMatch: 'W/"7f3a"' });
    expect(plan.bundle?.entry?.[0]?.resource).toMatchObject({ id: 'ehr-o', subject: { reference: 'Patient/ehr-p' } });
  });

  it('refuses to send a reference to a local resource that is neither synced nor sent', () => {
    expect(() =>
      planSync({ resources: [{ resource: o1, version: 1 }], syncIdentityOf, existing: new Map(), knownEhrCopies: new Map() }),
    ).toThrow(/Patient\/11111111.* is referenced but neither synced nor part of this sync/);
  });
});

describe('reading the transaction-response', () => {
  it('parses relative and absolute locations, with or without history', () => {
    expect(parseLocation('Observation/abc/_history/2')).toEqual({ reference: 'Observation/abc', version: '2' });
    expect(parseLocation('https://ehr.example/fhir/R4/Patient/9f1c-uuid/_history/7d0e-uuid')).toEqual({
      reference: 'Patient/9f1c-uuid',
      version: '7d0e-uuid',
    });
    expect(parseLocation('Patient/123')).toEqual({ reference: 'Patient/123' });
    expect(parseLocation('nonsense')).toBeUndefined();
  });

  it('maps each planned resource to its EHR id and opaque version', () => {
    const plan = planSync({
      resources: [{ resource: patient, version: 1 }],
      syncIdentityOf,
      existing: new Map(),
      knownEhrCopies: new Map(),
    });
    const synced = syncedFromResponse(plan, {
      resourceType: 'Bundle',
      type: 'transaction-response',
      entry: [{ response: { status: '201 Created', location: 'Patient/p-1/_history/0b9e', etag: 'W/"0b9e"' } }],
    });
    expect(synced).toEqual([{ localReference: `Patient/${patient.id}`, version: 1, ehrReference: 'Patient/p-1', ehrVersion: '0b9e' }]);
    expect(() =>
      syncedFromResponse(plan, { resourceType: 'Bundle', type: 'transaction-response', entry: [{ response: { status: '400' } }] }),
    ).toThrow();
  });

  it('compares content regardless of key order, meta and narrative', () => {
    const a = obs('x', 1);
    const b = { ...JSON.parse(JSON.stringify(obs('x', 1))), meta: { versionId: '5' }, text: { status: 'generated', div: '<div/>' } };
    expect(sameContent(a, b)).toBe(true);
    expect(sameContent(a, obs('x', 2))).toBe(false);
  });
});
