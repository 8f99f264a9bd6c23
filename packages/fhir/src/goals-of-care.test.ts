import type { CarePlan } from '@medplum/fhirtypes';
import { assertBundleInvariants } from '@kap/testkit/fhir-invariants';
import { collectionBundle } from './bundle';
import { applyCoursePlan, recordSessionOnCarePlan } from './care-plan';
import { buildGoalsOfCareResources, type GoalsOfCareInput } from './goals-of-care';
import { KAP_CODE_SYSTEM_URL } from './resource-ids';
import { BASE_URL, GOALS_OF_CARE } from '@kap/testkit/fixtures';

const RECORDED = '2026-03-20T15:00:00Z';
const patient = { reference: 'Patient/p1' };
const stored: CarePlan = {
  ...recordSessionOnCarePlan(
    applyCoursePlan({ courseId: 'c1', patient: 'p1', startDate: '2026-03-05', supportingInfo: [], created: RECORDED }),
    1,
  ),
  meta: { versionId: '3', lastUpdated: '2026-03-10T11:00:00Z' },
  goal: [{ reference: 'Goal/earlier' }],
};
const input: GoalsOfCareInput = {
  courseId: 'c1',
  discussionId: 'd1',
  patient,
  carePlan: stored,
  request: GOALS_OF_CARE,
  recordedAt: RECORDED,
  timeZone: 'UTC',
};
const codes = (c: { coding?: { system?: string; code?: string }[] } | undefined): string[] =>
  c?.coding?.map((x) => `${x.system}|${x.code}`) ?? [];
const activity = (cp: CarePlan, code: string) => cp.activity?.find((a) => a.detail?.code?.coding?.some((c) => c.code === code));

describe('buildGoalsOfCareResources', () => {
  const r = buildGoalsOfCareResources(input);

  it('records the discussion as a completed advance-care-planning Procedure with participants, values and decisions', () => {
    const p = r.procedure;
    expect(p).toMatchObject({
      status: 'completed',
      subject: patient,
      performedDateTime: GOALS_OF_CARE.discussedAt,
      basedOn: [{ reference: `CarePlan/${stored.id}` }],
    });
    expect(codes(p.code)).toEqual([`${KAP_CODE_SYSTEM_URL}|goals-of-care`, 'http://snomed.info/sct|713603004']);
    expect(p.performer?.map((x) => x.actor)).toEqual(GOALS_OF_CARE.participants.map((display) => ({ display })));
    expect(p.note?.map((n) => n.text)).toEqual([
      'Value: Being at peace with family',
      'Value: Staying clear-headed when visitors come',
      'Decision: Continue the second dosing session as planned',
    ]);
  });

  it('makes one active Goal per stated goal, expressed by the patient, priority when given', () => {
    expect(r.goals).toHaveLength(2);
    const [first, second] = r.goals;
    expect(first).toMatchObject({ lifecycleStatus: 'active', subject: patient, expressedBy: patient, startDate: '2026-03-20' });
    expect(first?.description.text).toBe('Spend the remaining weeks at home with family');
    expect(codes(first?.priority)).toEqual(['http://terminology.hl7.org/CodeSystem/goal-priority|high-priority']);
    expect(codes(first?.category?.[0])).toEqual(['http://loinc.org|87528-6']);
    expect(second?.priority).toBeUndefined();
  });

  it('records the care preferences as Observations part of the discussion', () => {
    expect(r.preferences.map((o) => [codes(o.code), o.valueString])).toEqual([
      [[`${KAP_CODE_SYSTEM_URL}|place-of-care`, 'http://loinc.org|81378-2'], 'Home, with hospice support'],
      [[`${KAP_CODE_SYSTEM_URL}|code-status`, 'http://loinc.org|81378-2'], 'Do not attempt resuscitation'],
    ]);
    expect(r.preferences.every((o) => o.partOf?.[0]?.reference === `Procedure/${r.procedure.id}`)).toBe(true);
    const none = buildGoalsOfCareResources({
      ...input,
      request: { ...GOALS_OF_CARE, preferences: undefined, decisions: undefined, values: [] },
    });
    expect(none.preferences).toEqual([]);
    expect(none.procedure.note).toBeUndefined();
  });

  it('revises the CarePlan: same id and meta, earlier goals kept, activity completed with the discussion as outcome', () => {
    const cp = r.carePlan;
    expect(cp.id).toBe(stored.id);
    expect(cp.meta).toEqual(stored.meta);
    expect(cp.goal?.map((g) => g.reference)).toEqual(['Goal/earlier', ...r.goals.map((g) => `Goal/${g.id}`)]);
    expect(activity(cp, 'goals-of-care')?.detail?.status).toBe('completed');
    expect(activity(cp, 'goals-of-care')?.outcomeReference).toEqual([{ reference: `Procedure/${r.procedure.id}` }]);
    expect(activity(cp, 'dosing-session-1')?.detail?.status).toBe('completed');
    expect(activity(stored, 'goals-of-care')?.detail?.status).toBe('not-started');
    // Applying the same discussion again adds nothing twice.
    const again = buildGoalsOfCareResources({ ...input, carePlan: cp });
    expect(again.carePlan.goal).toEqual(cp.goal);
    expect(activity(again.carePlan, 'goals-of-care')?.outcomeReference).toHaveLength(1);
  });

  it('passes the bundle invariants, procedure first and the CarePlan last', () => {
    expect(r.all.map((x) => x.resourceType)).toEqual(['Procedure', 'Goal', 'Goal', 'Observation', 'Observation', 'CarePlan']);
    assertBundleInvariants(collectionBundle(r.all, BASE_URL, RECORDED), new Set(['Patient/p1', 'Goal/earlier']));
  });
});
