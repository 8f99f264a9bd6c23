import type { CarePlan, Communication, Flag, Observation, QuestionnaireResponse, Resource } from '@medplum/fhirtypes';
import { evaluateScreening } from '@kap/domain';
import { assertBundleInvariants } from '@kap/testkit/fhir-invariants';
import { collectionBundle } from './bundle';
import { applyCoursePlan, linkActivityOutcomes } from './care-plan';
import { DEFINITIONAL_RESOURCES } from './definitional';
import { KAP_CODE_SYSTEM_URL, LOINC_SYSTEM } from './index';
import { buildMeasureResources } from './measure';
import { buildMeasureQuestionnaire } from './measure-questionnaire';
import { buildPatient } from './patient';
import { buildScreeningQuestionnaire } from './questionnaire';
import { buildScreeningResources } from './screening';
import { BASE_URL, ELIGIBLE_FULL, RECORDED_AT } from '@kap/testkit/fixtures';

const patient = buildPatient(ELIGIBLE_FULL.patient, 'default');
const subject = { reference: `Patient/${patient.id}` };
const carePlan = applyCoursePlan({ courseId: 'c1', patient: subject, startDate: '2026-03-02', supportingInfo: [], created: RECORDED_AT });
const carePlanRef = { reference: `CarePlan/${carePlan.id}` };

const measure = (overrides: Partial<Parameters<typeof buildMeasureResources>[0]> = {}) =>
  buildMeasureResources({
    courseId: 'c1',
    measureId: 'm1',
    patient: subject,
    carePlan: carePlanRef,
    measuredAt: '2026-03-10T10:00:00+01:00',
    recordedAt: RECORDED_AT,
    timepoint: 'after-session-1',
    phq9: [1, 1, 1, 1, 0, 1, 1, 0, 0],
    gad7: [1, 1, 0, 1, 0, 0, 1],
    ...overrides,
  });

const known = new Set([`Patient/${patient.id}`, `CarePlan/${carePlan.id}`]);

describe('measure Questionnaires', () => {
  it.each(['phq9', 'gad7'] as const)('%s uses the same LOINC items and answers as the screening', (instrument) => {
    const q = buildMeasureQuestionnaire(instrument);
    const screening = buildScreeningQuestionnaire().item?.find((i) => i.linkId === instrument);
    const questions = q.item?.filter((i) => i.type === 'choice') ?? [];
    expect(questions).toEqual(screening?.item);
    expect(q.code?.[0]).toMatchObject({ system: LOINC_SYSTEM, code: instrument === 'phq9' ? '44249-1' : '69737-5' });
    assertBundleInvariants(collectionBundle([q], BASE_URL, RECORDED_AT));
  });

  it('are served among the definitional resources', () => {
    expect(DEFINITIONAL_RESOURCES.map((r) => r.id)).toEqual(expect.arrayContaining(['kap-phq9', 'kap-gad7']));
  });
});

describe('buildMeasureResources', () => {
  it('builds a response and a total per instrument, the total derived from it and banded', () => {
    const m = measure();
    expect(m.all.map((r) => r.resourceType)).toEqual(['QuestionnaireResponse', 'QuestionnaireResponse', 'Observation', 'Observation']);
    assertBundleInvariants(collectionBundle(m.all, BASE_URL, RECORDED_AT), known);
    const [phq9, gad7] = m.totals as [Observation, Observation];
    expect(phq9).toMatchObject({ valueInteger: 6, code: { coding: [{ system: LOINC_SYSTEM, code: '44261-6' }] }, basedOn: [carePlanRef] });
    expect(phq9.derivedFrom).toEqual([{ reference: `QuestionnaireResponse/${m.responses[0]?.id}` }]);
    expect(phq9.interpretation?.[0]?.coding?.[0]).toMatchObject({ system: KAP_CODE_SYSTEM_URL, code: 'severity-mild' });
    expect(gad7).toMatchObject({ valueInteger: 4, code: { coding: [{ code: '70274-6' }] } });
    expect(gad7.interpretation?.[0]?.coding?.[0]?.code).toBe('severity-minimal');
    const qr = m.responses[0] as QuestionnaireResponse;
    expect(qr.questionnaire).toMatch(/Questionnaire\/kap-phq9\|/);
    expect(qr.item).toHaveLength(9);
    expect(m.alert).toBeUndefined();
  });

  it('is the same on a rebuild (a retried request makes no second resource)', () => {
    expect(measure().all.map((r) => r.id)).toEqual(measure().all.map((r) => r.id));
  });

  it('a GAD-7 alone gives only its own resources', () => {
    const m = measure({ phq9: undefined });
    expect(m.totals.map((o) => o.code.coding?.[0]?.code)).toEqual(['70274-6']);
  });

  it('refuses a measure with neither instrument', () => {
    expect(() => measure({ phq9: undefined, gad7: undefined })).toThrow(/PHQ-9 or a GAD-7/);
  });

  it('raises the self-harm alert when item 9 is above 0: a safety Flag and an urgent Communication', () => {
    const m = measure({ phq9: [1, 1, 1, 1, 0, 1, 1, 0, 2] });
    assertBundleInvariants(collectionBundle(m.all, BASE_URL, RECORDED_AT), known);
    const flag = m.alert?.flag as Flag;
    const communication = m.alert?.communication as Communication;
    expect(flag).toMatchObject({
      status: 'active',
      category: [{ coding: [{ code: 'safety' }] }],
      subject,
      period: { start: '2026-03-10T10:00:00+01:00' },
    });
    expect(flag.code.coding?.map((c) => c.code)).toEqual(['phq9-self-harm', '44260-8']);
    expect(flag.code.text).toMatch(/after session 1/);
    expect(flag.extension?.[0]?.valueReference).toEqual({ reference: `QuestionnaireResponse/${m.responses[0]?.id}` });
    expect(communication).toMatchObject({ priority: 'urgent', status: 'completed', category: [{ coding: [{ code: 'self-harm-alert' }] }] });
    expect(communication.about?.[0]).toEqual({ reference: `Flag/${flag.id}` });
  });
});

describe('the self-harm alert at screening', () => {
  it('adds the Flag and urgent Communication, evidenced by the finding Observation', () => {
    const request = { ...ELIGIBLE_FULL, measures: { phq9: [1, 2, 1, 0, 3, 1, 2, 1, 3] } };
    const evaluation = evaluateScreening(request);
    expect(evaluation.outcome).toBe('needs-review');
    const resources: Resource[] = buildScreeningResources({ screeningId: 's9', request, evaluation, patient, recordedAt: RECORDED_AT });
    assertBundleInvariants(collectionBundle([patient, ...resources], BASE_URL, RECORDED_AT));
    const flag = resources.find((r): r is Flag => r.resourceType === 'Flag');
    const finding = resources.find(
      (r): r is Observation => r.resourceType === 'Observation' && r.code.coding?.[0]?.code === 'phq9-self-harm',
    );
    expect(finding).toBeDefined();
    expect(flag?.extension?.[0]?.valueReference).toEqual({ reference: `Observation/${finding?.id}` });
    expect(resources.find((r) => r.resourceType === 'Communication')).toMatchObject({ priority: 'urgent' });
  });

  it('is absent when item 9 is 0', () => {
    const resources = buildScreeningResources({
      screeningId: 's0',
      request: ELIGIBLE_FULL,
      evaluation: evaluateScreening(ELIGIBLE_FULL),
      patient,
      recordedAt: RECORDED_AT,
    });
    expect(resources.some((r) => r.resourceType === 'Flag' || r.resourceType === 'Communication')).toBe(false);
  });
});

describe('linkActivityOutcomes', () => {
  it('adds the totals to the activity once, and leaves the others alone', () => {
    const refs = measure().totals.map((o) => ({ reference: `Observation/${o.id}` }));
    const once = linkActivityOutcomes(carePlan, 'dosing-session-1', refs);
    const twice = linkActivityOutcomes(once, 'dosing-session-1', refs);
    const activity = (cp: CarePlan) => cp.activity?.find((a) => a.detail?.code?.coding?.[0]?.code === 'dosing-session-1');
    expect(activity(twice)?.outcomeReference).toEqual(refs);
    expect(twice.activity?.filter((a) => a.outcomeReference).length).toBe(1);
    expect(carePlan.activity?.some((a) => a.outcomeReference)).toBe(false);
  });
});
