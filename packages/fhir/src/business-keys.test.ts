import * as keys from './business-keys';
import { resourceId } from './resource-ids';

/**
 * Each key's format, pinned: a change here changes the id of every resource made from it,
 * so the EHR would be sent second copies of what it already holds.
 */
describe('business keys', () => {
  it.each([
    [keys.patientKey({ system: 'urn:oid:1.2.3', value: 'MRN-1' }, 'default'), 'patient/urn:oid:1.2.3|MRN-1'],
    [keys.patientKey({ system: 'urn:oid:1.2.3', value: 'MRN-1' }, 'north'), 'tenant/north/patient/urn:oid:1.2.3|MRN-1'],
    [keys.patientKey({ system: 'urn:oid:1.2.3', value: 'MRN-1' }, 'a/patient/b'), 'tenant/a%2Fpatient%2Fb/patient/urn:oid:1.2.3|MRN-1'],
    [keys.screeningKey('s1', 'consent'), 'screening/s1/consent'],
    [keys.questionnaireResponseKey('s1'), 'screening/s1/questionnaire-response'],
    [keys.eligibilityKey('s1'), 'screening/s1/observation/eligibility'],
    [keys.findingKey('s1', 'blood-pressure'), 'screening/s1/observation/finding/blood-pressure'],
    [keys.bloodPressureKey('s1'), 'screening/s1/observation/blood-pressure'],
    [keys.carePlanKey('c1'), 'course/c1/care-plan'],
    [keys.dosingSessionKey('c1', 2), 'course/c1/session/2'],
    [keys.sessionResourceKey('course/c1/session/2', 'encounter'), 'course/c1/session/2/encounter'],
    [keys.sessionAlertKey('c1', 1), 'course/c1/session/1/blood-pressure-alert'],
    [keys.followUpGroupKey('c1', 1), 'course/c1/session/1/follow-ups'],
    [keys.followUpKey('f1'), 'follow-up/f1'],
    [keys.followUpTaskKey('f1'), 'follow-up/f1/task'],
    [keys.followUpProcedureKey('f1'), 'follow-up/f1/procedure'],
    [keys.followUpNotificationKey('f1', 'reminder'), 'follow-up/f1/reminder'],
    [keys.followUpNotificationKey('f1', 'escalation'), 'follow-up/f1/escalation'],
    [keys.goalsOfCareKey('c1', 'd1'), 'course/c1/goals-of-care/d1'],
    [keys.goalKey('course/c1/goals-of-care/d1', 0), 'course/c1/goals-of-care/d1/goal/1'],
    [keys.provenanceKey('course/c1/session/1'), 'course/c1/session/1/provenance'],
    [keys.courseStopKey('c1'), 'course/c1/stop'],
    [keys.courseNoteKey('c1', 2), 'course/c1/note/2'],
    [keys.followUpCompletionKey('f1'), 'follow-up/f1/completion'],
    [keys.inboundCareTeamKey(42, 'c1'), 'inbound/42/course/c1/care-team'],
    [keys.screeningSelfHarmAlertKey('s1'), 'screening/s1/alert/phq9-self-harm'],
    [keys.measureKey('c1', 'm1'), 'course/c1/measure/m1'],
    [keys.measureResourceKey('course/c1/measure/m1', 'phq9', 'questionnaire-response'), 'course/c1/measure/m1/phq9/questionnaire-response'],
    [keys.measureResourceKey('course/c1/measure/m1', 'gad7', 'total'), 'course/c1/measure/m1/gad7/total'],
    [keys.measureSelfHarmAlertKey('course/c1/measure/m1'), 'course/c1/measure/m1/alert/phq9-self-harm'],
    [keys.selfHarmAlertResourceKey('course/c1/measure/m1/alert/phq9-self-harm', 'flag'), 'course/c1/measure/m1/alert/phq9-self-harm/flag'],
  ])('%s', (made, pinned) => {
    expect(made).toBe(pinned);
  });

  it('every key function is pinned above', () => {
    const pinned = [
      'patientKey',
      'screeningKey',
      'questionnaireResponseKey',
      'eligibilityKey',
      'findingKey',
      'bloodPressureKey',
      'carePlanKey',
      'dosingSessionKey',
      'sessionResourceKey',
      'sessionAlertKey',
      'followUpGroupKey',
      'followUpKey',
      'followUpTaskKey',
      'followUpProcedureKey',
      'followUpNotificationKey',
      'goalsOfCareKey',
      'goalKey',
      'provenanceKey',
      'courseStopKey',
      'followUpCompletionKey',
      'screeningSelfHarmAlertKey',
      'measureKey',
      'measureResourceKey',
      'measureSelfHarmAlertKey',
      'selfHarmAlertResourceKey',
      'inboundCareTeamKey',
      'courseNoteKey',
    ];
    expect(Object.keys(keys).sort()).toEqual([...pinned].sort());
  });

  it("keeps the default tenant's patient ids as they were before tenants, and gives another tenant's its own", () => {
    const mrn = { system: 'urn:oid:1.2.3', value: 'MRN-1' };
    // uuid5(uuid5(NAMESPACE_URL, 'https://kap-adapter.org/fhir'), 'patient/urn:oid:1.2.3|MRN-1'), computed with Python's uuid module.
    expect(resourceId(keys.patientKey(mrn, 'default'))).toBe(PATIENT_MRN_1_ID);
    expect(resourceId(keys.patientKey(mrn, 'north'))).not.toBe(PATIENT_MRN_1_ID);
    expect(resourceId(keys.patientKey(mrn, 'north'))).not.toBe(resourceId(keys.patientKey(mrn, 'south')));
  });

  it('keys an id that an independent UUID v5 implementation reproduces', () => {
    // uuid5(uuid5(NAMESPACE_URL, 'https://kap-adapter.org/fhir'), 'course/c1/care-plan'), computed with Python's uuid module.
    expect(resourceId(keys.carePlanKey('c1'))).toBe(CARE_PLAN_C1_ID);
  });
});

const CARE_PLAN_C1_ID = '013e8b20-987b-5901-970a-dde4dbb645a7';
const PATIENT_MRN_1_ID = 'f8301b2a-da0f-5b82-b48d-0daa687d78bb';
