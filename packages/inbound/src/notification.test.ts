import type { Bundle, Encounter, Patient } from '@medplum/fhirtypes';
import {
  NotificationBundle,
  classicNotificationKey,
  parseReference,
  patientEventFromResource,
  readEhrNotificationBody,
  readNotification,
} from './notification';

const settings = { assigningAuthorities: new Map<string, string>(), dischargeStopCodes: new Set(['hosp', '51']) };

const bundle = (type: string, extra: Bundle['entry'] = [], focus = 'https://ehr.example/fhir/Patient/p1'): Bundle => ({
  resourceType: 'Bundle',
  type: 'history',
  entry: [
    {
      resource: {
        resourceType: 'Parameters',
        parameter: [
          { name: 'subscription', valueReference: { reference: 'https://ehr.example/fhir/Subscription/s1' } },
          { name: 'type', valueCode: type },
          { name: 'events-since-subscription-start', valueString: '7' },
          {
            name: 'notification-event',
            part: [
              { name: 'event-number', valueString: '7' },
              { name: 'focus', valueReference: { reference: focus } },
            ],
          },
        ],
      },
    },
    ...extra,
  ],
});

describe('FHIR notifications', () => {
  it('accepts the backport shape and names what is wrong otherwise', () => {
    expect(NotificationBundle.safeParse(bundle('heartbeat')).success).toBe(true);
    const wrongType = NotificationBundle.safeParse({ ...bundle('heartbeat'), type: 'transaction' });
    expect(wrongType.success).toBe(false);
    const noStatus = NotificationBundle.safeParse({
      resourceType: 'Bundle',
      type: 'history',
      entry: [{ resource: { resourceType: 'Patient' } }],
    });
    expect(noStatus.error?.issues[0]?.path).toEqual(['entry', 0, 'resource', 'resourceType']);
    const badType = NotificationBundle.safeParse(bundle('gossip'));
    expect(badType.error?.issues[0]?.path).toEqual(['entry', 0, 'resource', 'parameter', 'type']);
  });

  it('reads events with the focus in the Bundle (full-resource) or not (id-only)', () => {
    const patient: Patient = { resourceType: 'Patient', id: 'p1', deceasedBoolean: true };
    const full = readNotification(bundle('event-notification', [{ fullUrl: 'https://ehr.example/fhir/Patient/p1', resource: patient }]));
    expect(full).toMatchObject({
      type: 'event-notification',
      subscription: 'https://ehr.example/fhir/Subscription/s1',
      eventsSinceStart: '7',
    });
    expect(full.events).toEqual([{ eventNumber: '7', focus: { type: 'Patient', id: 'p1', reference: 'Patient/p1' }, resource: patient }]);
    const idOnly = readNotification(bundle('event-notification'));
    expect(idOnly.events[0]?.resource).toBeUndefined();
    expect(parseReference('Encounter/e-9/_history/3')).toEqual({ type: 'Encounter', id: 'e-9', reference: 'Encounter/e-9' });
  });

  it('maps a deceased Patient and an Encounter discharge to course ends', () => {
    const dead = patientEventFromResource(
      { resourceType: 'Patient', id: 'p1', identifier: [{ system: 'urn:oid:1.2', value: 'M1' }], deceasedDateTime: '2026-03-01' },
      settings,
    );
    expect(dead).toMatchObject({
      identifiers: [{ system: 'urn:oid:1.2', value: 'M1' }],
      ehrPatientId: 'p1',
      courseEnd: 'deceased',
      deceasedAt: '2026-03-01',
    });
    expect(patientEventFromResource({ resourceType: 'Patient', id: 'p2', deceasedBoolean: false }, settings)?.courseEnd).toBeUndefined();
    const encounter = (code: string): Encounter => ({
      resourceType: 'Encounter',
      status: 'finished',
      class: { code: 'IMP' },
      subject: { reference: 'Patient/p3' },
      hospitalization: {
        dischargeDisposition: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/discharge-disposition', code }] },
      },
    });
    expect(patientEventFromResource(encounter('exp'), settings)).toMatchObject({ ehrPatientId: 'p3', courseEnd: 'deceased' });
    expect(patientEventFromResource(encounter('hosp'), settings)).toMatchObject({ courseEnd: 'discharged' });
    expect(patientEventFromResource(encounter('home'), settings)?.courseEnd).toBeUndefined();
    expect(patientEventFromResource({ resourceType: 'Observation', status: 'final', code: {} }, settings)).toBeUndefined();
  });
});

describe('classic R4 rest-hook bodies', () => {
  const deceased: Patient = {
    resourceType: 'Patient',
    id: 'p9',
    meta: { versionId: 'v-uuid-2' },
    identifier: [{ system: 'urn:mrn', value: 'M1' }],
    deceasedDateTime: '2026-12-07T01:00:00Z',
  };

  it('reads a bare Patient or Encounter as a classic notification of that resource', () => {
    expect(readEhrNotificationBody(deceased)).toEqual({ ok: true, value: { style: 'classic', resource: deceased } });
    const encounter: Encounter = { resourceType: 'Encounter', id: 'e1', status: 'finished', class: { code: 'IMP' } };
    expect(readEhrNotificationBody(encounter)).toMatchObject({ ok: true, value: { style: 'classic', resource: { id: 'e1' } } });
    const event = patientEventFromResource(deceased, settings);
    expect(event).toMatchObject({ courseEnd: 'deceased', ehrPatientId: 'p9', deceasedAt: '2026-12-07T01:00:00Z' });
  });

  it('reads no body, or {} (a delete, as Medplum sends it), as a ping', () => {
    for (const empty of [undefined, null, '', {}])
      expect(readEhrNotificationBody(empty)).toEqual({ ok: true, value: { style: 'classic-ping' } });
  });

  it('still reads a backport Bundle as one, and refuses a malformed one as a Bundle', () => {
    expect(readEhrNotificationBody(bundle('heartbeat'))).toMatchObject({ ok: true, value: { style: 'backport' } });
    const bad = readEhrNotificationBody({ resourceType: 'Bundle', type: 'history', entry: [{ resource: { resourceType: 'Patient' } }] });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.issues[0]?.path[0]).toBe('entry');
  });

  it('refuses other resource types and a resource without id, naming the field', () => {
    const other = readEhrNotificationBody({ resourceType: 'Observation', id: 'o1' });
    expect(!other.ok && other.issues.map((i) => i.path.join('.'))).toEqual(['resourceType']);
    const noId = readEhrNotificationBody({ resourceType: 'Patient' });
    expect(!noId.ok && noId.issues.map((i) => i.path.join('.'))).toEqual(['id']);
    expect(readEhrNotificationBody([deceased]).ok).toBe(false);
  });

  it('keys a notification by the resource version it reports, so a resend is the same message', () => {
    expect(classicNotificationKey(deceased)).toBe('Patient/p9/_history/v-uuid-2');
    expect(classicNotificationKey({ ...deceased, meta: {} })).toBeUndefined();
  });
});
