import type { CarePlan } from '@medplum/fhirtypes';
import { COURSE_ACTIVITIES } from '@kap/domain';
import { assertBundleInvariants } from '@kap/testkit/fhir-invariants';
import { collectionBundle } from './bundle';
import { applyCoursePlan, recordSessionOnCarePlan, setActivityStatus, stopCarePlan } from './care-plan';
import { KAP_CODE_SYSTEM_URL } from './resource-ids';
import { buildPatient } from './patient';
import { buildCoursePlanDefinition, COURSE_PLAN_CANONICAL } from './plan-definition';
import { BASE_URL, ELIGIBLE_FULL, RECORDED_AT } from '@kap/testkit/fixtures';

const ourCode = (codes: { coding?: { system?: string; code?: string }[] } | undefined): string | undefined =>
  codes?.coding?.find((c) => c.system === KAP_CODE_SYSTEM_URL)?.code;

describe('the kap-palliative-course PlanDefinition', () => {
  const plan = buildCoursePlanDefinition();

  it('is an active clinical protocol with one action per activity, in domain order', () => {
    expect(plan).toMatchObject({ id: 'kap-palliative-course', status: 'active' });
    expect(plan.type?.coding?.[0]?.code).toBe('clinical-protocol');
    expect(plan.action?.map((a) => a.id)).toEqual([...COURSE_ACTIVITIES]);
    expect(plan.action?.map((a) => ourCode(a.code?.[0]))).toEqual([...COURSE_ACTIVITIES]);
    assertBundleInvariants(collectionBundle([plan], BASE_URL, RECORDED_AT));
  });

  it('orders the sessions and integration, and marks the medication review optional', () => {
    const act = (id: string) => plan.action?.find((a) => a.id === id);
    expect(act('dosing-session-2')?.relatedAction).toEqual([{ actionId: 'dosing-session-1', relationship: 'after-end' }]);
    expect(act('integration')?.relatedAction?.map((r) => [r.actionId, r.offsetRange?.high?.value])).toEqual([
      ['dosing-session-1', 168],
      ['dosing-session-2', 168],
    ]);
    expect(act('dosing-session-1')?.timingDuration).toMatchObject({ value: 3, code: 'h' });
    expect(act('medication-review')?.requiredBehavior).toBe('could');
    expect(act('preparation')?.requiredBehavior).toBe('must');
  });
});

describe('applyCoursePlan', () => {
  const patient = buildPatient(ELIGIBLE_FULL.patient, 'default');
  const build = (): CarePlan =>
    applyCoursePlan({
      courseId: 'c1',
      patient: patient.id ?? '',
      startDate: '2026-03-05',
      supportingInfo: [{ reference: `Patient/${patient.id}` }],
      created: RECORDED_AT,
    });

  it('instantiates the PlanDefinition as an active palliative CarePlan', () => {
    const carePlan = build();
    expect(carePlan).toMatchObject({ status: 'active', intent: 'plan', instantiatesCanonical: [COURSE_PLAN_CANONICAL] });
    expect(carePlan.category?.[0]?.coding?.[0]?.code).toBe('103735009');
    expect(carePlan.subject).toEqual({ reference: `Patient/${patient.id}` });
    expect(carePlan.period).toEqual({ start: '2026-03-05' });
    expect(carePlan.id).toBe(build().id);
    assertBundleInvariants(collectionBundle([patient, carePlan], BASE_URL, RECORDED_AT));
  });

  it('has one not-started activity per phase; the sessions carry ketamine', () => {
    const activities = build().activity ?? [];
    expect(activities.map((a) => ourCode(a.detail?.code))).toEqual([...COURSE_ACTIVITIES]);
    expect(activities.every((a) => a.detail?.status === 'not-started' && !!a.detail.description)).toBe(true);
    const products = activities.map((a) => a.detail?.productCodeableConcept?.coding?.map((c) => c.code));
    expect(products).toEqual([undefined, ['373464007', '6130'], ['373464007', '6130'], undefined, undefined, undefined]);
    expect(activities[1]?.detail?.description).toMatch(/low dose/);
    expect(activities[2]?.detail?.description).toMatch(/moderate dose/);
    expect(activities[5]?.detail?.description).toMatch(/Optional/);
  });

  it('setActivityStatus returns a new CarePlan and leaves the input alone', () => {
    const before = build();
    const after = setActivityStatus(before, 'dosing-session-1', 'completed');
    expect(after.activity?.[1]?.detail?.status).toBe('completed');
    expect(after.activity?.[2]?.detail?.status).toBe('not-started');
    expect(before.activity?.[1]?.detail?.status).toBe('not-started');
    expect(() => setActivityStatus({ ...before, activity: [] }, 'integration', 'completed')).toThrow(/no "integration"/);
  });
});

describe('course progress and stop', () => {
  const base = (): CarePlan =>
    applyCoursePlan({ courseId: 'c1', patient: 'p1', startDate: '2026-03-05', supportingInfo: [], created: RECORDED_AT });
  const statuses = (cp: CarePlan) => cp.activity?.map((a) => a.detail?.status);

  it('recordSessionOnCarePlan completes the session and puts integration in progress', () => {
    const after1 = recordSessionOnCarePlan(base(), 1);
    expect(statuses(after1)).toEqual(['not-started', 'completed', 'not-started', 'in-progress', 'not-started', 'not-started']);
    const after2 = recordSessionOnCarePlan(after1, 2);
    expect(statuses(after2)).toEqual(['not-started', 'completed', 'completed', 'in-progress', 'not-started', 'not-started']);
  });

  it('stopCarePlan(withdrawn): revoked, period end, started activities stopped, the rest cancelled, a note', () => {
    const AT = '2026-03-12T10:00:00+01:00';
    const running = { ...setActivityStatus(recordSessionOnCarePlan(base(), 1), 'preparation', 'completed'), meta: { versionId: '4' } };
    const stopped = stopCarePlan(running, 'withdrawn', AT);
    expect(stopped.status).toBe('revoked');
    expect(stopped.period).toEqual({ start: '2026-03-05', end: AT });
    expect(statuses(stopped)).toEqual(['completed', 'completed', 'cancelled', 'stopped', 'cancelled', 'cancelled']);
    expect(stopped.note).toEqual([{ time: AT, text: 'Course stopped: the patient withdrew.' }]);
    expect(stopped.meta).toEqual({ versionId: '4' });
    expect(running.status).toBe('active');
    assertBundleInvariants(collectionBundle([stopped], BASE_URL, RECORDED_AT), new Set(['Patient/p1']));
  });

  it('stopCarePlan(completed) completes the plan; deceased and discharged revoke it', () => {
    const AT = '2026-04-01T10:00:00Z';
    expect(stopCarePlan(base(), 'completed', AT).status).toBe('completed');
    expect(stopCarePlan(base(), 'deceased', AT)).toMatchObject({
      status: 'revoked',
      note: [{ text: 'Course stopped: the patient died.' }],
    });
    expect(stopCarePlan(base(), 'discharged', AT).note?.[0]?.text).toMatch(/discharged/);
  });
});
