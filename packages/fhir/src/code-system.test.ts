import type { Coding, Resource } from '@medplum/fhirtypes';
import { evaluateScreening } from '@kap/domain';
import { assertBundleInvariants } from '@kap/testkit/fhir-invariants';
import { collectionBundle } from './bundle';
import { applyCoursePlan, recordSessionOnCarePlan, stopCarePlan } from './care-plan';
import { buildCareTeamCommunication } from './communication';
import { referenceTo } from './datatypes';
import { buildDosingSessionResources } from './dosing-session';
import { buildFollowUpTask, cancelFollowUpTask, completeFollowUpTask, escalateFollowUpTask } from './follow-up-task';
import { buildGoalsOfCareResources } from './goals-of-care';
import { buildIntegrationProcedure } from './integration-procedure';
import { buildProvenance } from './provenance';
import { buildKapCodeSystem } from './code-system';
import { ALL_STANDARD_CODES } from './codes';
import { RESOURCE_IDENTIFIER_SYSTEM } from './resource-ids';
import { KAP_CODE_SYSTEM_URL } from './resource-ids';
import { applyScreeningReview } from './observation-eligibility';
import { buildPatient } from './patient';
import { buildCoursePlanDefinition } from './plan-definition';
import { buildScreeningQuestionnaire } from './questionnaire';
import { buildScreeningResources } from './screening';
import { BASE_URL, BP_CONTRAINDICATED, ELIGIBLE_FULL, GOALS_OF_CARE, NEEDS_REVIEW, RECORDED_AT, SESSION_1 } from '@kap/testkit/fixtures';

function codings(value: unknown, out: Coding[] = []): Coding[] {
  if (Array.isArray(value)) value.forEach((v) => codings(v, out));
  else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.system === 'string' && typeof o.code === 'string') out.push(o as Coding);
    Object.values(o).forEach((v) => codings(v, out));
  }
  return out;
}

function everythingBuilt(): Resource[] {
  const out: Resource[] = [buildScreeningQuestionnaire(), buildCoursePlanDefinition()];
  for (const [id, request] of [
    ['a', ELIGIBLE_FULL],
    ['b', NEEDS_REVIEW],
    ['c', BP_CONTRAINDICATED],
  ] as const) {
    const patient = buildPatient(request.patient, 'default');
    const resources = buildScreeningResources({
      screeningId: id,
      request,
      evaluation: evaluateScreening(request),
      patient,
      recordedAt: RECORDED_AT,
    });
    out.push(patient, ...resources);
    const eligibility = resources.find((r) => r.resourceType === 'Observation' && r.code.coding?.[0]?.code === 'screening-eligibility');
    if (eligibility?.resourceType === 'Observation') {
      out.push(applyScreeningReview(eligibility, { decision: 'approved', reviewer: 'x' }, RECORDED_AT));
      out.push(applyScreeningReview(eligibility, { decision: 'declined', reviewer: 'x' }, RECORDED_AT));
    }
  }
  const carePlan = applyCoursePlan({ courseId: 'c', patient: 'p', startDate: '2026-03-05', supportingInfo: [], created: RECORDED_AT });
  out.push(carePlan, stopCarePlan(recordSessionOnCarePlan(carePlan, 1), 'withdrawn', RECORDED_AT));
  const patient = { reference: 'Patient/p' };
  const session = buildDosingSessionResources({
    courseId: 'c',
    sessionId: 's',
    sessionNumber: 1,
    patient,
    carePlan: referenceTo(carePlan),
    request: SESSION_1,
    recordedAt: RECORDED_AT,
    alertThreshold: { systolicAbove: 100, diastolicAbove: 60 },
  });
  out.push(...session.all);
  const task = buildFollowUpTask({
    followUpId: 'f',
    courseId: 'c',
    sessionNumber: 1,
    sequence: 1,
    dueBy: RECORDED_AT,
    patient,
    carePlan: referenceTo(carePlan),
    sessionProcedure: referenceTo(session.procedure),
    authoredOn: RECORDED_AT,
  });
  const procedure = buildIntegrationProcedure({
    followUpId: 'f',
    patient,
    task: referenceTo(task),
    carePlan: referenceTo(carePlan),
    completedAt: RECORDED_AT,
  });
  out.push(
    task,
    escalateFollowUpTask(task, RECORDED_AT),
    cancelFollowUpTask(task, RECORDED_AT, 'x'),
    completeFollowUpTask(task, RECORDED_AT, referenceTo(procedure)),
    procedure,
  );
  for (const category of ['follow-up-reminder', 'follow-up-escalation', 'blood-pressure-alert', 'care-plan-update'] as const) {
    out.push(
      buildCareTeamCommunication({ key: category, patient, about: [], category, text: 't', sent: RECORDED_AT, priority: 'routine' }),
    );
  }
  out.push(
    ...buildGoalsOfCareResources({
      courseId: 'c',
      discussionId: 'd',
      patient,
      carePlan,
      request: GOALS_OF_CARE,
      recordedAt: RECORDED_AT,
      timeZone: 'UTC',
    }).all,
  );
  out.push(buildProvenance({ key: 'p', targets: [patient], recorded: RECORDED_AT, activity: 'CREATE', authorDisplay: 'a' }));
  out.push(buildProvenance({ key: 'p', targets: [patient], recorded: RECORDED_AT, activity: 'UPDATE' }));
  return out;
}

describe('the kap CodeSystem', () => {
  const cs = buildKapCodeSystem();

  it('is active, complete, and valid', () => {
    expect(cs).toMatchObject({ url: KAP_CODE_SYSTEM_URL, status: 'active', content: 'complete' });
    expect(cs.count).toBe(cs.concept?.length);
    assertBundleInvariants(collectionBundle([cs], BASE_URL, RECORDED_AT));
  });

  it('contains every code of ours the builders use, with the same display', () => {
    const concepts = new Map(cs.concept?.map((c) => [c.code, c.display]));
    const used = codings(everythingBuilt()).filter((c) => c.system === KAP_CODE_SYSTEM_URL);
    expect(used.length).toBeGreaterThan(20);
    for (const c of used) expect([c.code, concepts.get(c.code ?? '')]).toEqual([c.code, c.display]);
  });

  it('builders use no standard code outside the checked tables', () => {
    const known = new Set(ALL_STANDARD_CODES.map((c) => `${c.system}|${c.code}`));
    const unknown = codings(everythingBuilt())
      // The Provenance identity tag is an identifier, not a code.
      .filter(
        (c) =>
          c.system !== KAP_CODE_SYSTEM_URL &&
          c.system !== RESOURCE_IDENTIFIER_SYSTEM &&
          !c.system?.startsWith('https://hospital.example.org'),
      )
      .map((c) => `${c.system}|${c.code}`)
      .filter((k) => !known.has(k));
    expect([...new Set(unknown)]).toEqual([]);
  });

  it('the session, follow-up and goals-of-care codes are used by their builders', () => {
    const used = new Set(
      codings(everythingBuilt())
        .filter((c) => c.system === KAP_CODE_SYSTEM_URL)
        .map((c) => c.code),
    );
    const expected = [
      'follow-up-reminder',
      'follow-up-escalation',
      'blood-pressure-alert',
      'care-plan-update',
      'place-of-care',
      'code-status',
    ];
    expect(expected.concat(['low', 'dissociation', 'ego-dissolution', 'distress']).filter((code) => !used.has(code))).toEqual([]);
  });
});
