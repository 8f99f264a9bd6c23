import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Observation, Reference, CarePlan, Patient } from '@medplum/fhirtypes';
import type { DosingSessionRequest } from '@kap/contracts';
import { assertBundleInvariants } from '@kap/testkit/fhir-invariants';
import { collectionBundle } from './bundle';
import { applyCoursePlan } from './care-plan';
import { referenceTo } from './datatypes';
import { buildDosingSessionResources, type DosingSessionResources } from './dosing-session';
import { SESSION_IDENTIFIER_SYSTEM } from './encounter';
import { KAP_CODE_SYSTEM_URL, RESOURCE_IDENTIFIER_SYSTEM, resourceId } from './resource-ids';
import { DOSE_LEVEL_EXTENSION } from './medication-administration';
import { buildPatient } from './patient';
import { FLAG_DETAIL_EXTENSION, type AlertThreshold } from './session-alert';
import { dosingSessionKey } from './business-keys';
import { ALERT_THRESHOLD, BASE_URL, ELIGIBLE_FULL, SESSION_1 } from '@kap/testkit/fixtures';
import { VITAL_SIGNS_PROFILES } from './validate';

const RECORDED = '2026-03-10T11:00:00Z';
const patient = buildPatient(ELIGIBLE_FULL.patient, 'default');
const carePlan = applyCoursePlan({
  courseId: 'c1',
  patient: patient.id ?? '',
  startDate: '2026-03-05',
  supportingInfo: [],
  created: RECORDED,
});
const patientRef: Reference<Patient> = referenceTo(patient, 'Ada Example');
const carePlanRef: Reference<CarePlan> = referenceTo(carePlan);
const known = new Set([`Patient/${patient.id}`, `CarePlan/${carePlan.id}`]);

function session(request: DosingSessionRequest = SESSION_1, alertThreshold: AlertThreshold = ALERT_THRESHOLD): DosingSessionResources {
  return buildDosingSessionResources({
    courseId: 'c1',
    sessionId: 'sess-1',
    sessionNumber: request.sessionNumber,
    patient: patientRef,
    carePlan: carePlanRef,
    request,
    recordedAt: RECORDED,
    alertThreshold,
  });
}

const base = () => ({
  courseId: 'c1',
  sessionId: 'sess-1',
  sessionNumber: 1 as const,
  patient: patientRef,
  carePlan: carePlanRef,
  request: SESSION_1,
  recordedAt: RECORDED,
  alertThreshold: ALERT_THRESHOLD,
});
const codes = (c: { coding?: { system?: string; code?: string }[] } | undefined): string[] =>
  c?.coding?.map((x) => `${x.system}|${x.code}`) ?? [];
const ref = (r: { resourceType: string; id?: string }): string => `${r.resourceType}/${r.id}`;

describe('buildDosingSessionResources', () => {
  it('builds the visit, the session, the ketamine, vitals, experience and adverse events, encounter first', () => {
    const s = session();
    expect(s.all.map((r) => r.resourceType)).toEqual([
      'Encounter',
      'Procedure',
      'MedicationAdministration',
      ...Array(8).fill('Observation'),
      ...Array(3).fill('Observation'),
      'AdverseEvent',
    ]);
    expect(s.alert).toBeUndefined();
    assertBundleInvariants(collectionBundle(s.all, BASE_URL, RECORDED), known);
  });

  it('keys every resource under dosingSessionKey, so a rebuild gives the same ids', () => {
    expect(dosingSessionKey('c1', 1)).toBe('course/c1/session/1');
    const s = session();
    expect(s.encounter.id).toBe(resourceId('course/c1/session/1/encounter'));
    expect(s.all).toEqual(session().all);
    const other = buildDosingSessionResources({
      courseId: 'c2',
      sessionId: 'x',
      sessionNumber: 1,
      patient: patientRef,
      carePlan: carePlanRef,
      request: SESSION_1,
      recordedAt: RECORDED,
      alertThreshold: ALERT_THRESHOLD,
    });
    expect(other.encounter.id).not.toBe(s.encounter.id);
    expect(() => buildDosingSessionResources({ ...base(), sessionNumber: 2 })).toThrow(/request of session 1/);
  });

  it('Encounter: finished ambulatory visit over the session, also found by the session id', () => {
    const { encounter } = session();
    expect(encounter).toMatchObject({ status: 'finished', subject: patientRef, period: { start: SESSION_1.start, end: SESSION_1.end } });
    expect(encounter.class).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' });
    expect(codes(encounter.type?.[0])).toEqual([`${KAP_CODE_SYSTEM_URL}|dosing-session-1`, 'http://snomed.info/sct|75516001']);
    expect(encounter.identifier).toEqual([
      { system: RESOURCE_IDENTIFIER_SYSTEM, value: encounter.id },
      { system: SESSION_IDENTIFIER_SYSTEM, value: 'sess-1' },
    ]);
  });

  it('Procedure: completed psychotherapy session based on the CarePlan, in the Encounter', () => {
    const { procedure, encounter } = session();
    expect(procedure).toMatchObject({
      status: 'completed',
      basedOn: [carePlanRef],
      subject: patientRef,
      encounter: { reference: ref(encounter) },
      performedPeriod: { start: SESSION_1.start, end: SESSION_1.end },
    });
    expect(codes(procedure.code)).toContain('http://snomed.info/sct|75516001');
    expect(codes(procedure.code)).toContain(`${KAP_CODE_SYSTEM_URL}|dosing-session-1`);
  });

  it('MedicationAdministration: ketamine, route, UCUM dose and coded dose level, part of the session', () => {
    const { medicationAdministration: ma, procedure, encounter } = session();
    expect(ma.status).toBe('completed');
    expect(codes(ma.medicationCodeableConcept)).toEqual([
      'http://snomed.info/sct|373464007',
      'http://www.nlm.nih.gov/research/umls/rxnorm|6130',
    ]);
    expect(ma.partOf).toEqual([{ reference: ref(procedure) }]);
    expect(ma.context).toEqual({ reference: ref(encounter) });
    expect(ma.effectivePeriod).toEqual({ start: SESSION_1.start, end: SESSION_1.end });
    expect(codes(ma.dosage?.route)).toEqual(['http://snomed.info/sct|78421000']);
    expect(ma.dosage?.dose).toEqual({ value: 0.5, unit: 'mg/kg', system: 'http://unitsofmeasure.org', code: 'mg/kg' });
    const level = ma.dosage?.extension?.find((e) => e.url === DOSE_LEVEL_EXTENSION);
    expect(codes(level?.valueCodeableConcept)).toEqual([`${KAP_CODE_SYSTEM_URL}|low`]);
    expect(ma.note).toBeUndefined(); // low is what session 1 plans
  });

  it('notes a dose level other than the planned one, and takes mg and other routes', () => {
    const {
      medicationAdministration: ma,
      experience,
      adverseEvents,
    } = session({
      ...SESSION_1,
      sessionNumber: 2,
      doseLevel: 'high',
      route: 'sublingual',
      dose: { value: 200, unit: 'mg' },
      experience: undefined,
      adverseEvents: undefined,
    });
    expect(ma.note?.[0]?.text).toMatch(/high dose; the course plans a moderate dose for session 2/);
    expect(codes(ma.dosage?.route)).toEqual(['http://snomed.info/sct|37839007']);
    expect(ma.dosage?.dose).toMatchObject({ value: 200, code: 'mg' });
    expect(experience).toEqual([]);
    expect(adverseEvents).toEqual([]);
  });

  it('keeps the reason for a dose level other than the planned one on the administration', () => {
    const { medicationAdministration: ma } = session({
      ...SESSION_1,
      doseLevel: 'moderate',
      doseDeviationReason: 'Low dose gave no effect at screening test dose',
    });
    expect(ma.note?.[0]?.text).toMatch(
      /moderate dose; the course plans a low dose for session 1\. Reason: Low dose gave no effect at screening test dose$/,
    );
  });

  it('vitals: one profiled set per reading, at the reading time, in the Encounter and part of the session', () => {
    const { vitals, encounter, procedure } = session();
    expect(vitals.map((o) => [o.code.coding?.[0]?.code, o.effectiveDateTime])).toEqual([
      ['85354-9', SESSION_1.vitals[0]?.at],
      ['8867-4', SESSION_1.vitals[0]?.at],
      ['2708-6', SESSION_1.vitals[0]?.at],
      ['85354-9', SESSION_1.vitals[1]?.at],
      ['8867-4', SESSION_1.vitals[1]?.at],
      ['85354-9', SESSION_1.vitals[2]?.at],
      ['8867-4', SESSION_1.vitals[2]?.at],
      ['9279-1', SESSION_1.vitals[2]?.at],
    ]);
    for (const o of vitals) {
      expect(o.meta?.profile?.[0]).toMatch(/^http:\/\/hl7\.org\/fhir\/StructureDefinition\//);
      expect(o.encounter).toEqual({ reference: ref(encounter) });
      expect(o.partOf).toEqual([{ reference: ref(procedure) }]);
      expect(o.derivedFrom).toBeUndefined();
      expect(o.issued).toBe(RECORDED);
    }
    expect(vitals[3]?.meta?.profile).toEqual([VITAL_SIGNS_PROFILES.bloodPressure]);
    expect(vitals[3]?.component?.map((c) => c.valueQuantity?.value)).toEqual([152, 92]);
  });

  it('experience: one survey Observation per rating, a {score} quantity', () => {
    const { experience } = session();
    expect(experience.map((o) => [o.code.coding?.[0]?.code, o.valueQuantity?.value, o.valueQuantity?.code])).toEqual([
      ['dissociation', 6, '{score}'],
      ['ego-dissolution', 3.5, '{score}'],
      ['distress', 1, '{score}'],
    ]);
    expect(experience.every((o) => o.category?.[0]?.coding?.[0]?.code === 'survey' && o.effectiveDateTime === SESSION_1.end)).toBe(true);
  });

  it('adverse events: actual, R4 severity, the ketamine administration as suspect', () => {
    const { adverseEvents, medicationAdministration, encounter } = session();
    expect(adverseEvents).toHaveLength(1);
    const ae = adverseEvents[0];
    expect(ae).toMatchObject({
      actuality: 'actual',
      subject: patientRef,
      encounter: { reference: ref(encounter) },
      event: { text: 'Transient nausea after the acute effects' },
      recordedDate: RECORDED,
      suspectEntity: [{ instance: { reference: ref(medicationAdministration) } }],
      identifier: { system: RESOURCE_IDENTIFIER_SYSTEM, value: ae?.id },
    });
    expect(codes(ae?.severity)).toEqual(['http://terminology.hl7.org/CodeSystem/adverse-event-severity|mild']);
  });
});

describe('the in-session blood-pressure alert', () => {
  // Reading 2 is 152/92: the highest of the session.
  it('is not raised by a reading exactly at the threshold', () => {
    expect(session(SESSION_1, { systolicAbove: 152, diastolicAbove: 92 }).alert).toBeUndefined();
  });

  it('is raised by a reading strictly above either limit', () => {
    expect(session(SESSION_1, { systolicAbove: 151, diastolicAbove: 120 }).alert).toBeDefined();
    expect(session(SESSION_1, { systolicAbove: 200, diastolicAbove: 91 }).alert).toBeDefined();
  });

  it('Flag and DetectedIssue name the reading and point at its blood-pressure Observation', () => {
    const s = session(SESSION_1, { systolicAbove: 150, diastolicAbove: 100 });
    const { flag, detectedIssue } = s.alert ?? {};
    const bp = s.vitals[3] as Observation;
    expect(detectedIssue).toMatchObject({
      status: 'final',
      severity: 'high',
      patient: patientRef,
      identifiedDateTime: SESSION_1.vitals[1]?.at,
      implicated: [{ reference: ref(bp) }],
    });
    expect(detectedIssue?.detail).toContain('152/92 mmHg');
    expect(flag).toMatchObject({
      status: 'active',
      subject: patientRef,
      period: { start: SESSION_1.vitals[1]?.at },
      encounter: { reference: ref(s.encounter) },
    });
    expect(codes(flag?.category?.[0])).toEqual(['http://terminology.hl7.org/CodeSystem/flag-category|clinical']);
    expect(flag?.code.text).toContain('152/92 mmHg');
    expect(flag?.extension).toEqual([{ url: FLAG_DETAIL_EXTENSION, valueReference: { reference: `DetectedIssue/${detectedIssue?.id}` } }]);
    expect(s.all.slice(-2)).toEqual([detectedIssue, flag]);
    assertBundleInvariants(collectionBundle(s.all, BASE_URL, RECORDED), known);
  });

  it('implicates every reading above, first first', () => {
    const s = session(SESSION_1, { systolicAbove: 127, diastolicAbove: 100 });
    expect(s.alert?.detectedIssue.implicated?.map((r) => r.reference)).toEqual(
      [s.vitals[0], s.vitals[3], s.vitals[5]].map((o) => `Observation/${o?.id}`),
    );
    expect(s.alert?.flag.code.text).toMatch(/128\/80 mmHg .*\(3 readings above\)/);
  });
});

describe('golden file', () => {
  it('dosing-session-1-full.json pins the full FHIR output', () => {
    const s = session(SESSION_1, { systolicAbove: 150, diastolicAbove: 100 });
    const bundle = collectionBundle([patient, carePlan, ...s.all], BASE_URL, RECORDED);
    assertBundleInvariants(bundle);
    const dir = join(__dirname, '__golden__');
    const path = join(dir, 'dosing-session-1-full.json');
    const text = `${JSON.stringify(bundle, null, 2)}\n`;
    if (process.env.UPDATE_GOLDEN === '1') {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path, text);
    }
    if (!existsSync(path)) throw new Error('Missing golden file dosing-session-1-full.json: run with UPDATE_GOLDEN=1 and review it');
    expect(JSON.parse(text)).toEqual(JSON.parse(readFileSync(path, 'utf8')));
  });
});
