import { Hl7Message } from '@medplum/core';
import type { DocumentReference, Observation, Patient } from '@medplum/fhirtypes';
import { buildMdm, buildOru, htmlToLines, v2ControlId, v2MessageKind, V2BuildError, type V2OutSettings } from './hl7v2-out';

const SYSTEM = 'urn:oid:2.16.840.1.113883.19.5.99999.1';
const settings: V2OutSettings = {
  sendingApplication: 'KAP',
  sendingFacility: 'PALLIATIVE',
  receivingApplication: 'ENGINE',
  receivingFacility: 'HOSP',
  authorityBySystem: new Map([[SYSTEM, 'HOSP']]),
};
const now = new Date('2026-03-01T10:00:00Z');
const patient: Patient = {
  resourceType: 'Patient',
  id: 'p1',
  identifier: [
    { system: 'urn:other', value: 'X' },
    { system: SYSTEM, value: 'MRN-1' },
  ],
  name: [{ family: 'Synthetic|Test^Family', given: ['Ann&Bo', 'Mary'] }],
  birthDate: '1950-04-02',
  gender: 'female',
};

const bp: Observation = {
  resourceType: 'Observation',
  id: 'bp1',
  meta: { versionId: '1' },
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '85354-9', display: 'Blood pressure panel with all children optional' }] },
  subject: { reference: 'Patient/p1' },
  effectiveDateTime: '2026-03-01T09:30:00+01:00',
  issued: '2026-03-01T09:31:00Z',
  component: [
    {
      code: { coding: [{ system: 'http://loinc.org', code: '8480-6', display: 'Systolic blood pressure' }] },
      valueQuantity: { value: 128, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
    },
    {
      code: { coding: [{ system: 'http://loinc.org', code: '8462-4', display: 'Diastolic blood pressure' }] },
      valueQuantity: { value: 82, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
    },
  ],
};

const phq9: Observation = {
  resourceType: 'Observation',
  id: 'phq',
  meta: { versionId: '2' },
  status: 'amended',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'survey' }] }],
  code: {
    coding: [
      { system: 'http://loinc.org', code: '44261-6', display: 'Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]' },
    ],
  },
  subject: { reference: 'Patient/p1' },
  effectiveDateTime: '2026-03-01T09:30:00Z',
  valueInteger: 10,
  interpretation: [
    { coding: [{ system: 'https://kap.example/cs', code: 'severity-moderate', display: 'Moderate' }], text: 'Moderate (PHQ-9 10-14)' },
  ],
};

describe('ORU^R01', () => {
  it('carries a blood pressure as two NM OBX in UCUM, with a PID-3 the inbound feed would read back', () => {
    const msg = Hl7Message.parse(buildOru(bp, patient, v2ControlId('Observation', 'bp1', '1'), settings, now).toString());
    const msh = msg.getSegment('MSH');
    expect(msh?.getField(9).toString()).toBe('ORU^R01^ORU_R01');
    expect(msh?.getField(10).toString()).toBe(v2ControlId('Observation', 'bp1', '1'));
    expect(msh?.getField(12).toString()).toBe('2.5.1');
    // Original-mode acknowledgement (no MSH-15/16), UTF-8.
    expect([15, 16, 18].map((f) => msh?.getField(f)?.toString() ?? '')).toEqual(['', '', 'UNICODE UTF-8']);
    expect([3, 4, 5, 6].map((f) => msh?.getField(f).toString())).toEqual(['KAP', 'PALLIATIVE', 'ENGINE', 'HOSP']);
    const pid = msg.getSegment('PID');
    expect(pid?.getField(3).toString()).toBe('MRN-1^^^HOSP^MR');
    expect(pid?.getField(5).toString()).toBe('Synthetic\\F\\Test\\S\\Family^Ann\\T\\Bo^Mary');
    expect(msg.getSegment('OBR')?.getField(4).getComponent(1)).toBe('85354-9');
    const obx = msg.getAllSegments('OBX');
    expect(
      obx.map((s) => [
        s.getField(2).toString(),
        s.getComponent(3, 1),
        s.getField(5).toString(),
        s.getComponent(6, 1),
        s.getField(11).toString(),
      ]),
    ).toEqual([
      ['NM', '8480-6', '128', 'mm[Hg]', 'F'],
      ['NM', '8462-4', '82', 'mm[Hg]', 'F'],
    ]);
    expect(obx[0]?.getField(14).toString()).toBe('20260301083000+0000');
  });

  it('carries a PHQ-9 total with its severity band under the same sub-id, corrected for a later version', () => {
    const msg = Hl7Message.parse(buildOru(phq9, patient, 'C1', settings, now).toString());
    const obx = msg.getAllSegments('OBX');
    expect(obx).toHaveLength(2);
    expect([
      obx[0]?.getComponent(3, 1),
      obx[0]?.getField(4).toString(),
      obx[0]?.getField(5).toString(),
      obx[0]?.getField(11).toString(),
    ]).toEqual(['44261-6', '1', '10', 'C']);
    expect([obx[1]?.getField(2).toString(), obx[1]?.getField(4).toString(), obx[1]?.getComponent(5, 1)]).toEqual([
      'CWE',
      '1',
      'severity-moderate',
    ]);
  });

  it('refuses a patient without an identifier the engine knows, and tells which messages qualify', () => {
    expect(() => buildOru(bp, { ...patient, identifier: [{ system: 'urn:other', value: 'X' }] }, 'C1', settings, now)).toThrow(
      V2BuildError,
    );
    expect(v2MessageKind(bp)).toBe('ORU^R01');
    expect(v2MessageKind(phq9)).toBe('ORU^R01');
    expect(v2MessageKind({ ...phq9, code: { coding: [{ system: 'http://loinc.org', code: '81378-2' }] } })).toBeUndefined();
    expect(v2MessageKind({ resourceType: 'DocumentReference', status: 'current', content: [] })).toBe('MDM^T02');
    expect(v2MessageKind({ resourceType: 'DocumentReference', status: 'superseded', content: [] })).toBeUndefined();
    expect(v2MessageKind({ resourceType: 'CarePlan', status: 'active', intent: 'plan', subject: {} })).toBeUndefined();
  });

  it('keeps MSH-10 stable per version and within 20 characters', () => {
    const id = v2ControlId('Observation', 'bp1', '1');
    expect(id).toBe(v2ControlId('Observation', 'bp1', '1'));
    expect(id).not.toBe(v2ControlId('Observation', 'bp1', '2'));
    expect(id.length).toBeLessThanOrEqual(20);
  });
});

describe('MDM^T02', () => {
  const html =
    '<html><body><h1>Course note</h1><p>PHQ-9 14 → 6 | GAD-7 ^12~ &amp; 5 \\ done</p><ul><li>Session 1</li><li>Session 2</li></ul></body></html>';
  const pdf = Buffer.from('%PDF-1.4 synthetic').toString('base64');
  const note: DocumentReference = {
    resourceType: 'DocumentReference',
    id: 'note1',
    meta: { versionId: '3' },
    status: 'current',
    docStatus: 'final',
    type: { coding: [{ system: 'http://loinc.org', code: '11506-3', display: 'Progress note' }] },
    category: [
      { coding: [{ system: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category', code: 'clinical-note' }] },
    ],
    subject: { reference: 'Patient/p1' },
    date: '2026-03-02T12:00:00Z',
    author: [{ reference: 'Practitioner/doc1', display: 'Dr Synthetic' }],
    relatesTo: [{ code: 'replaces', target: { reference: 'DocumentReference/note0' } }],
    content: [
      { attachment: { contentType: 'text/html; charset=utf-8', data: Buffer.from(html).toString('base64') } },
      { attachment: { contentType: 'application/pdf', data: pdf } },
    ],
  };

  it('sends TXA, the text as FT with escapes and line breaks, and the PDF as ED base64', () => {
    const text = buildMdm(note, patient, v2ControlId('DocumentReference', 'note1', '3'), settings, now).toString();
    const msg = Hl7Message.parse(text);
    expect(msg.segments.map((s) => s.name)).toEqual(['MSH', 'EVN', 'PID', 'PV1', 'TXA', 'OBX', 'OBX']);
    expect(msg.getSegment('MSH')?.getField(9).toString()).toBe('MDM^T02^MDM_T02');
    const txa = msg.getSegment('TXA');
    expect([
      txa?.getField(2).toString(),
      txa?.getField(3).toString(),
      txa?.getField(12).toString(),
      txa?.getField(13).toString(),
      txa?.getField(17).toString(),
      txa?.getField(19).toString(),
    ]).toEqual(['11506-3', 'FT', 'note1_3^KAP', 'note0_1^KAP', 'AU', 'AV']);
    const [ft, ed] = msg.getAllSegments('OBX');
    expect(ft?.getField(2).toString()).toBe('FT');
    expect(ft?.getField(5).toString()).toBe(
      'Course note\\.br\\PHQ-9 14 → 6 \\F\\ GAD-7 \\S\\12\\R\\ \\T\\ 5 \\E\\ done\\.br\\Session 1\\.br\\Session 2',
    );
    expect(ed?.getField(2).toString()).toBe('ED');
    expect([ft?.getField(11).toString(), ed?.getField(11).toString()]).toEqual(['F', 'F']);
    expect([2, 3, 4, 5].map((c) => ed?.getComponent(5, c))).toEqual(['AP', 'PDF', 'Base64', pdf]);
  });

  it('names the replaced version in TXA-13: from the reference, the store, or the previous version of the same note', () => {
    const parent = (doc: DocumentReference, replacedVersion?: string): string | undefined =>
      Hl7Message.parse(buildMdm(doc, patient, 'C', settings, now, replacedVersion ? { replacedVersion } : {}).toString())
        .getSegment('TXA')
        ?.getField(13)
        .toString();
    expect(parent({ ...note, relatesTo: [{ code: 'replaces', target: { reference: 'DocumentReference/note0/_history/4' } }] })).toBe(
      'note0_4^KAP',
    );
    expect(parent(note, '7')).toBe('note0_7^KAP');
    expect(parent({ ...note, relatesTo: [] })).toBe('note1_2^KAP');
    expect(parent({ ...note, relatesTo: [], meta: { versionId: '1' } })).toBe('');
  });

  it('refuses a note with no inline content', () => {
    expect(() =>
      buildMdm({ ...note, content: [{ attachment: { contentType: 'application/pdf', url: 'Binary/1' } }] }, patient, 'C', settings, now),
    ).toThrow(V2BuildError);
  });

  it('reads HTML as lines of text', () => {
    expect(htmlToLines('<p>a&lt;b</p><p>c&#233;</p>')).toBe('a<b\ncé');
  });
});
