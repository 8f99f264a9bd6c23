import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertBundleInvariants } from '@kap/testkit/fhir-invariants';
import {
  adapterCauseSystem,
  auditOutcome,
  auditPatientId,
  buildAdapterWriteAuditEvent,
  buildAuditEvent,
  buildRefusedTokenAuditEvent,
  UNVERIFIED_CLIENT_DISPLAY,
  type AuditEventInput,
} from './audit-event';
import { collectionBundle } from './bundle';
import { RESOURCE_IDENTIFIER_SYSTEM } from './resource-ids';
import { ADAPTER_DISPLAY } from './provenance';
import { BASE_URL, RECORDED_AT } from '@kap/testkit/fixtures';

const READ: AuditEventInput = {
  id: '0b6f6a3e-5d0c-4f4e-9d51-7c7c3b1f0a01',
  interaction: 'read',
  recorded: RECORDED_AT,
  status: 200,
  client: { clientId: 'ward-app', subject: 'dr-rivera', address: '10.0.0.7' },
  baseUrl: BASE_URL,
  patientId: 'p1',
  resources: ['Observation/o1'],
};

const codeOf = (c: { system?: string; code?: string } | undefined): string => `${c?.system}|${c?.code}`;

describe('buildAuditEvent', () => {
  it('a read: type rest, subtype read, action R, the client as Source and the adapter as Destination', () => {
    const e = buildAuditEvent(READ);
    expect(codeOf(e.type)).toBe('http://terminology.hl7.org/CodeSystem/audit-event-type|rest');
    expect(e.subtype?.map(codeOf)).toEqual(['http://hl7.org/fhir/restful-interaction|read']);
    expect(e.action).toBe('R');
    expect(e.outcome).toBe('0');
    expect(e.outcomeDesc).toBeUndefined();
    expect(e.recorded).toBe(RECORDED_AT);
    const [client, adapter] = e.agent ?? [];
    expect(codeOf(client?.type?.coding?.[0])).toBe('http://dicom.nema.org/resources/ontology/DCM|110153');
    expect(client).toMatchObject({
      who: { identifier: { value: 'ward-app' } },
      altId: 'dr-rivera',
      requestor: true,
      network: { address: '10.0.0.7', type: '2' },
    });
    expect(codeOf(adapter?.type?.coding?.[0])).toBe('http://dicom.nema.org/resources/ontology/DCM|110152');
    expect(adapter).toMatchObject({ who: { display: ADAPTER_DISPLAY }, requestor: false, network: { address: BASE_URL, type: '5' } });
    expect(e.source?.type?.map(codeOf)).toEqual(['http://terminology.hl7.org/CodeSystem/security-source-type|4']);
    expect(e.entity?.map((x) => [x.what?.reference, codeOf(x.type), codeOf(x.role)])).toEqual([
      ['Patient/p1', 'http://terminology.hl7.org/CodeSystem/audit-entity-type|1', 'http://terminology.hl7.org/CodeSystem/object-role|1'],
      [
        'Observation/o1',
        'http://terminology.hl7.org/CodeSystem/audit-entity-type|2',
        'http://terminology.hl7.org/CodeSystem/object-role|4',
      ],
    ]);
    expect(auditPatientId(e)).toBe('p1');
    expect(e.meta?.tag).toEqual([{ system: RESOURCE_IDENTIFIER_SYSTEM, code: READ.id }]);
  });

  it('a search: subtype search-type, action E, the query base64 in a Query entity', () => {
    const e = buildAuditEvent({
      ...READ,
      interaction: 'search-type',
      resources: [],
      query: '/fhir/R4/Observation?patient=Patient/p1&_count=10',
    });
    expect(e.subtype?.[0]?.code).toBe('search-type');
    expect(e.action).toBe('E');
    const query = e.entity?.find((x) => x.role?.code === '24');
    expect(query?.type?.code).toBe('2');
    expect(Buffer.from(query?.query ?? '', 'base64').toString('utf8')).toBe('/fhir/R4/Observation?patient=Patient/p1&_count=10');
  });

  it.each([
    ['create', 'C'],
    ['update', 'U'],
    ['vread', 'R'],
  ] as const)('%s is action %s', (interaction, action) => {
    const e = buildAuditEvent({ ...READ, interaction });
    expect([e.subtype?.[0]?.code, e.action]).toEqual([interaction, action]);
  });

  it('names each written resource once, and the Patient only as the patient', () => {
    const e = buildAuditEvent({ ...READ, interaction: 'create', resources: ['Patient/p1', 'CarePlan/c1', 'CarePlan/c1', 'Goal/g1'] });
    expect(e.entity?.map((x) => [x.what?.reference, x.role?.code])).toEqual([
      ['Patient/p1', '1'],
      ['CarePlan/c1', '4'],
      ['Goal/g1', '4'],
    ]);
  });

  it('a failure without a known patient: outcome from the status, no patient entity, the subject left out when it is the client', () => {
    const e = buildAuditEvent({
      ...READ,
      status: 404,
      patientId: undefined,
      resources: ['Observation/nope'],
      client: { clientId: 'svc', subject: 'svc' },
    });
    expect(e.outcome).toBe('4');
    expect(e.outcomeDesc).toBe('HTTP 404');
    expect(auditPatientId(e)).toBeUndefined();
    expect(e.agent?.[0]?.altId).toBeUndefined();
    expect(e.agent?.[0]?.network).toBeUndefined();
  });

  it('maps HTTP statuses to the R4 outcome codes', () => {
    expect([200, 201, 304, 400, 403, 404, 409, 500, 503].map(auditOutcome)).toEqual(['0', '0', '0', '4', '4', '4', '4', '8', '8']);
  });

  it('passes the R4 validator and JSON schema in a Bundle', () => {
    const events = [
      buildAuditEvent(READ),
      buildAuditEvent({
        ...READ,
        id: '0b6f6a3e-5d0c-4f4e-9d51-7c7c3b1f0a02',
        interaction: 'search-type',
        query: 'patient=p1',
        status: 403,
      }),
    ];
    assertBundleInvariants(collectionBundle(events, BASE_URL, RECORDED_AT), new Set(['Patient/p1', 'Observation/o1']));
  });
});

describe('every shape the batches write unvalidated', () => {
  const interactions = ['read', 'vread', 'search-type', 'create', 'update'] as const;
  const shapes = interactions.flatMap((interaction) =>
    [200, 404, 503].flatMap((status) =>
      [undefined, 'p1'].flatMap((patientId) => [false, true].map((rich) => ({ interaction, status, patientId, rich }))),
    ),
  );

  it.each(shapes)(
    '$interaction, status $status, patient $patientId, optional parts $rich is valid R4',
    ({ interaction, status, patientId, rich }) => {
      const input: AuditEventInput = {
        id: 'a1',
        interaction,
        recorded: RECORDED_AT,
        status,
        client: rich ? { clientId: 'c', subject: 's', address: '::1' } : { clientId: 'c' },
        baseUrl: BASE_URL,
        ...(patientId ? { patientId } : {}),
        ...(rich ? { resources: ['Observation/o1', 'Observation/o1/_history/2'] } : {}),
        ...(rich && interaction === 'search-type' ? { query: '/fhir/R4/Observation?patient=p1' } : {}),
      };
      const unchecked = buildAuditEvent(input, { validate: false });
      expect(buildAuditEvent(input)).toEqual(unchecked);
    },
  );
});

describe('golden file', () => {
  it('audit-event-read.json pins a BALP patient read', () => {
    const event = buildAuditEvent(READ);
    const dir = join(__dirname, '__golden__');
    const path = join(dir, 'audit-event-read.json');
    const text = `${JSON.stringify(event, null, 2)}\n`;
    if (process.env.UPDATE_GOLDEN === '1') {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path, text);
    }
    if (!existsSync(path)) throw new Error('Missing golden file audit-event-read.json: run with UPDATE_GOLDEN=1 and review it');
    expect(JSON.parse(text)).toEqual(JSON.parse(readFileSync(path, 'utf8')));
  });
});

describe('buildRefusedTokenAuditEvent', () => {
  const base = {
    id: 'refused-1',
    windowStart: '2026-03-01T10:00:00.000Z',
    firstAt: '2026-03-01T10:00:05.000Z',
    lastAt: '2026-03-01T10:00:50.000Z',
    address: '10.0.0.9',
    reason: 'expired',
    count: 7,
    baseUrl: BASE_URL,
  };
  it('a failed User Authentication/Login, the claimed client marked unverified, the count and period; no patient', () => {
    const e = buildRefusedTokenAuditEvent({ ...base, clientId: 'ward-app' });
    expect(codeOf(e.type)).toBe('http://dicom.nema.org/resources/ontology/DCM|110114');
    expect(e.subtype?.map(codeOf)).toEqual(['http://dicom.nema.org/resources/ontology/DCM|110122']);
    expect(e.outcome).toBe('4');
    expect(e.outcomeDesc).toBe('HTTP 401: expired; 7 time(s) in the minute from 2026-03-01T10:00:00.000Z');
    expect(e.period).toEqual({ start: base.firstAt, end: base.lastAt });
    expect(e.agent?.[0]).toMatchObject({
      requestor: true,
      who: { identifier: { value: 'ward-app' }, display: UNVERIFIED_CLIENT_DISPLAY },
      network: { address: '10.0.0.9', type: '2' },
    });
    expect(auditPatientId(e)).toBeUndefined();
    expect(e.entity).toBeUndefined();
  });
  it('no client named: says so', () => {
    expect(buildRefusedTokenAuditEvent({ ...base, clientId: '', address: '' }).agent?.[0]).toEqual(
      expect.objectContaining({ who: { display: expect.stringMatching(/^no client named/) } }),
    );
  });
});

describe('buildAdapterWriteAuditEvent', () => {
  it('the adapter as the requesting agent, the patient and resources as entities, the cause as a Job entity', () => {
    const e = buildAdapterWriteAuditEvent({
      id: '0b6f6a3e-5d0c-4f4e-9d51-7c7c3b1f0a09',
      recorded: RECORDED_AT,
      interaction: 'update',
      baseUrl: BASE_URL,
      actor: 'worker/ehr-inbound',
      patientId: 'p1',
      resources: ['Patient/p1', 'Communication/c1'],
      cause: { kind: 'inbound-message', id: '42', description: 'hl7v2 ADT^A08 applied' },
    });
    expect(e.action).toBe('U');
    expect(e.agent).toEqual([expect.objectContaining({ who: { display: ADAPTER_DISPLAY }, altId: 'worker/ehr-inbound', requestor: true })]);
    expect(auditPatientId(e)).toBe('p1');
    expect(e.entity?.map((x) => x.what?.reference ?? x.what?.identifier?.value)).toEqual(['Patient/p1', 'Communication/c1', '42']);
    expect(e.entity?.[2]).toMatchObject({
      role: { code: '20' },
      what: { identifier: { system: adapterCauseSystem('inbound-message') } },
      description: 'hl7v2 ADT^A08 applied',
    });
    expect(e.meta?.tag).toEqual([{ system: RESOURCE_IDENTIFIER_SYSTEM, code: e.id }]);
  });
});
