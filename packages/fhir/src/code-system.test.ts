import type { Coding, Resource } from '@medplum/fhirtypes';
import { evaluateScreening } from '@kap/domain';
import { assertBundleInvariants } from '../../../test/support/fhir-invariants';
import { collectionBundle } from './bundle';
import { applyCoursePlan } from './care-plan';
import { buildKapCodeSystem } from './code-system';
import { ALL_STANDARD_CODES } from './codes';
import { KAP_CODE_SYSTEM_URL } from './identity';
import { applyScreeningReview } from './observation-eligibility';
import { buildPatient } from './patient';
import { buildCoursePlanDefinition } from './plan-definition';
import { buildScreeningQuestionnaire } from './questionnaire';
import { buildScreeningResources } from './screening';
import { BASE_URL, BP_CONTRAINDICATED, ELIGIBLE_FULL, NEEDS_REVIEW, RECORDED_AT } from './test-fixtures';

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
  for (const [id, request] of [['a', ELIGIBLE_FULL], ['b', NEEDS_REVIEW], ['c', BP_CONTRAINDICATED]] as const) {
    const patient = buildPatient(request.patient);
    const resources = buildScreeningResources({ screeningId: id, request, evaluation: evaluateScreening(request), patient, recordedAt: RECORDED_AT });
    out.push(patient, ...resources);
    const eligibility = resources.find((r) => r.resourceType === 'Observation' && r.code.coding?.[0]?.code === 'screening-eligibility');
    if (eligibility?.resourceType === 'Observation') {
      out.push(applyScreeningReview(eligibility, { decision: 'approved', reviewer: 'x' }, RECORDED_AT));
      out.push(applyScreeningReview(eligibility, { decision: 'declined', reviewer: 'x' }, RECORDED_AT));
    }
  }
  out.push(applyCoursePlan({ courseId: 'c', patient: 'p', startDate: '2026-03-05', supportingInfo: [], created: RECORDED_AT }));
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
      .filter((c) => c.system !== KAP_CODE_SYSTEM_URL && !c.system?.startsWith('https://hospital.example.org'))
      .map((c) => `${c.system}|${c.code}`)
      .filter((k) => !known.has(k));
    expect([...new Set(unknown)]).toEqual([]);
  });
});
