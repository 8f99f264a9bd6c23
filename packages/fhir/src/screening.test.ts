import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Consent, Observation, QuestionnaireResponse, Resource } from '@medplum/fhirtypes';
import { evaluateScreening } from '@kap/domain';
import type { ScreeningRequest } from '@kap/contracts';
import { assertBundleInvariants } from '@kap/testkit/fhir-invariants';
import { collectionBundle, searchsetBundle } from './bundle';
import { KAP_CODE_SYSTEM_URL } from './resource-ids';
import { applyScreeningReview } from './observation-eligibility';
import { buildPatient } from './patient';
import { buildScreeningResources } from './screening';
import { BASE_URL, BP_CONTRAINDICATED, ELIGIBLE_FULL, NEEDS_REVIEW, RECORDED_AT } from '@kap/testkit/fixtures';
import { VITAL_SIGNS_PROFILES } from './validate';

function screen(screeningId: string, request: ScreeningRequest): { resources: Resource[]; bundle: Bundle } {
  const patient = buildPatient(request.patient, 'default');
  const resources = buildScreeningResources({
    screeningId,
    request,
    evaluation: evaluateScreening(request),
    patient,
    recordedAt: RECORDED_AT,
  });
  const bundle = collectionBundle([patient, ...resources], BASE_URL, RECORDED_AT);
  return { resources, bundle };
}

const byCode = (resources: Resource[], code: string): Observation | undefined =>
  resources.find((r): r is Observation => r.resourceType === 'Observation' && !!r.code.coding?.some((c) => c.code === code));

const ofType = <T extends Resource['resourceType']>(resources: Resource[], type: T): Extract<Resource, { resourceType: T }>[] =>
  resources.filter((r): r is Extract<Resource, { resourceType: T }> => r.resourceType === type);

describe('buildScreeningResources', () => {
  it('builds everything an eligible, fully measured screening holds', () => {
    const { resources, bundle } = screen('s-eligible', ELIGIBLE_FULL);
    assertBundleInvariants(bundle);
    expect(resources.map((r) => r.resourceType)).toEqual([
      'QuestionnaireResponse',
      ...Array(5).fill('Observation'),
      'Observation',
      'Observation',
      'Observation',
      'Consent',
    ]);
    const qr = ofType(resources, 'QuestionnaireResponse')[0] as QuestionnaireResponse;
    for (const obs of ofType(resources, 'Observation')) {
      expect(obs.derivedFrom?.[0]?.reference).toBe(`QuestionnaireResponse/${qr.id}`);
      expect(obs.identifier?.[0]?.value).toBe(obs.id);
    }
    expect(byCode(resources, '44261-6')?.valueInteger).toBe(11);
    expect(byCode(resources, '70274-6')?.valueInteger).toBe(7);
    expect(byCode(resources, 'screening-eligibility')?.valueCodeableConcept?.coding?.[0]?.code).toBe('eligible');
    expect(byCode(resources, 'screening-eligibility')?.hasMember).toBeUndefined();
  });

  it('claims and conforms to the R4 vital-signs profiles', () => {
    const { resources } = screen('s-eligible', ELIGIBLE_FULL);
    const bp = byCode(resources, '85354-9');
    expect(bp?.meta?.profile).toEqual([VITAL_SIGNS_PROFILES.bloodPressure]);
    expect(bp?.component?.map((c) => [c.code.coding?.[0]?.code, c.valueQuantity?.value, c.valueQuantity?.code])).toEqual([
      ['8480-6', 128, 'mm[Hg]'],
      ['8462-4', 82, 'mm[Hg]'],
    ]);
    expect(byCode(resources, '8867-4')?.meta?.profile).toEqual([VITAL_SIGNS_PROFILES.heartRate]);
    expect(byCode(resources, '9279-1')?.valueQuantity).toMatchObject({ value: 14, code: '/min' });
    const spo2 = byCode(resources, '2708-6');
    expect(spo2?.code.coding?.map((c) => c.code)).toEqual(['2708-6', '59408-5']);
    expect(spo2?.valueQuantity).toMatchObject({ value: 97.5, code: '%' });
    expect(byCode(resources, '29463-7')?.valueQuantity).toMatchObject({ value: 61.2, code: 'kg' });
  });

  it('builds only the vital signs measured and no scores or consent when absent', () => {
    const { resources, bundle } = screen('s-review', NEEDS_REVIEW);
    assertBundleInvariants(bundle);
    expect(byCode(resources, '9279-1')).toBeUndefined();
    expect(byCode(resources, '44261-6')).toBeUndefined();
    expect(ofType(resources, 'Consent')).toHaveLength(0);
  });

  it('keeps one finding Observation per reason, grouped by the eligibility Observation', () => {
    const { resources } = screen('s-review', NEEDS_REVIEW);
    const eligibility = byCode(resources, 'screening-eligibility');
    expect(eligibility?.valueCodeableConcept?.coding?.[0]).toMatchObject({ system: KAP_CODE_SYSTEM_URL, code: 'needs-review' });
    const findings = ['obesityAnestheticRisk', 'recurrentCystitis'].map((k) => byCode(resources, k));
    expect(eligibility?.hasMember?.map((m) => m.reference)).toEqual(findings.map((f) => `Observation/${f?.id}`));
    expect(findings[0]?.valueCodeableConcept?.coding?.[0]?.code).toBe('caution');
    expect(findings[0]?.note?.[0]?.text).toMatch(/anaesthetic risk/);
  });

  it('derives the blood-pressure finding from the blood-pressure Observation', () => {
    const { resources, bundle } = screen('s-bp', BP_CONTRAINDICATED);
    assertBundleInvariants(bundle);
    const bp = byCode(resources, '85354-9');
    const finding = byCode(resources, 'blood-pressure');
    expect(finding?.derivedFrom).toEqual([{ reference: `Observation/${bp?.id}` }]);
    expect(finding?.valueCodeableConcept?.coding?.[0]?.code).toBe('absolute');
    expect(finding?.note?.[0]?.text).toContain('168/98');
    expect(byCode(resources, 'screening-eligibility')?.valueCodeableConcept?.coding?.[0]?.code).toBe('contraindicated');
    expect(ofType(resources, 'Consent')).toHaveLength(0); // informed: false
  });

  it('records consent as an active treatment Consent permitting psychotherapy', () => {
    const { resources } = screen('s-eligible', ELIGIBLE_FULL);
    const consent = ofType(resources, 'Consent')[0] as Consent;
    expect(consent.status).toBe('active');
    expect(consent.scope.coding?.[0]?.code).toBe('treatment');
    expect(consent.dateTime).toBe('2026-03-01T09:00:00+01:00');
    expect(consent.provision?.type).toBe('permit');
    expect(consent.provision?.code?.[0]?.coding?.[0]?.code).toBe('75516001');
  });

  it('is deterministic: building twice gives identical resources', () => {
    expect(screen('s-eligible', ELIGIBLE_FULL).resources).toEqual(screen('s-eligible', ELIGIBLE_FULL).resources);
    const ids = (r: Resource[]): string[] => r.map((x) => x.id ?? '');
    expect(ids(screen('a', NEEDS_REVIEW).resources)).not.toEqual(ids(screen('b', NEEDS_REVIEW).resources));
  });
});

describe('buildPatient', () => {
  it('keys the Patient by the hospital identifier and keeps the name as given', () => {
    const a = buildPatient(ELIGIBLE_FULL.patient, 'default');
    expect(a).toMatchObject({ identifier: [{ system: ELIGIBLE_FULL.patient.system, value: 'MRN-001' }], name: [{ text: 'Ada Example' }] });
    expect(a).toMatchObject({ birthDate: '1950-04-01', gender: 'female' });
    expect(buildPatient({ ...ELIGIBLE_FULL.patient, name: undefined }, 'default').id).toBe(a.id);
    expect(buildPatient(NEEDS_REVIEW.patient, 'default').name).toEqual([{ family: 'Sample', given: ['Ben'] }]);
    expect(buildPatient(BP_CONTRAINDICATED.patient, 'default').name).toBeUndefined();
  });
});

describe('applyScreeningReview', () => {
  it('amends the eligibility Observation with the decision, reviewer and note', () => {
    const { resources } = screen('s-review', NEEDS_REVIEW);
    const eligibility = byCode(resources, 'screening-eligibility') as Observation;
    const reviewed = applyScreeningReview(
      eligibility,
      { decision: 'approved', reviewer: 'Dr. Rivera', note: 'BMI acceptable' },
      RECORDED_AT,
    );
    expect(reviewed.status).toBe('amended');
    expect(reviewed.id).toBe(eligibility.id);
    expect(reviewed.performer).toEqual([{ display: 'Dr. Rivera' }]);
    expect(reviewed.component?.[0]?.code.coding?.[0]?.code).toBe('review-decision');
    expect(reviewed.component?.[0]?.valueCodeableConcept?.coding?.[0]?.code).toBe('approved');
    expect(reviewed.note).toEqual([{ authorString: 'Dr. Rivera', time: RECORDED_AT, text: 'BMI acceptable' }]);
    expect(eligibility.status).toBe('final'); // input untouched
    const again = applyScreeningReview(reviewed, { decision: 'declined', reviewer: 'Dr. Chen' }, RECORDED_AT);
    expect(again.component).toHaveLength(1);
    expect(again.component?.[0]?.valueCodeableConcept?.coding?.[0]?.code).toBe('declined');
    expect(again.note).toHaveLength(2);
    const patient = buildPatient(NEEDS_REVIEW.patient, 'default');
    assertBundleInvariants(collectionBundle([patient, ...resources.filter((r) => r.id !== again.id), again], BASE_URL, RECORDED_AT));
  });
});

describe('bundles', () => {
  it('collection: fullUrl on the base, timestamp, type', () => {
    const { bundle } = screen('s-review', NEEDS_REVIEW);
    expect(bundle.type).toBe('collection');
    expect(bundle.timestamp).toBe(RECORDED_AT);
    const first = bundle.entry?.[0];
    expect(first?.fullUrl).toBe(`${BASE_URL}/Patient/${first?.resource?.id}`);
    expect(collectionBundle([], `${BASE_URL}/`, RECORDED_AT).entry).toBeUndefined();
  });

  it('searchset: every entry a match, total and self link', () => {
    const { resources } = screen('s-review', NEEDS_REVIEW);
    const patient = buildPatient(NEEDS_REVIEW.patient, 'default');
    const obs = ofType(resources, 'Observation');
    const bundle = searchsetBundle(obs, BASE_URL, `${BASE_URL}/Observation?patient=${patient.id}`, { timestamp: RECORDED_AT });
    expect(bundle.total).toBe(obs.length);
    expect(bundle.entry?.every((e) => e.search?.mode === 'match')).toBe(true);
    assertBundleInvariants(bundle, new Set([`Patient/${patient.id}`, `QuestionnaireResponse/${resources[0]?.id}`]));
  });
});

describe('golden files', () => {
  const dir = join(__dirname, '__golden__');
  const cases: [string, string, ScreeningRequest][] = [
    ['screening-eligible-full.json', 'golden-eligible', ELIGIBLE_FULL],
    ['screening-needs-review.json', 'golden-needs-review', NEEDS_REVIEW],
    ['screening-contraindicated-bp.json', 'golden-contraindicated-bp', BP_CONTRAINDICATED],
  ];

  it.each(cases)('%s pins the full FHIR output', (file, screeningId, request) => {
    const { bundle } = screen(screeningId, request);
    assertBundleInvariants(bundle);
    const path = join(dir, file);
    const text = `${JSON.stringify(bundle, null, 2)}\n`;
    if (process.env.UPDATE_GOLDEN === '1') {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path, text);
    }
    if (!existsSync(path)) throw new Error(`Missing golden file ${file}: run with UPDATE_GOLDEN=1 and review it`);
    expect(JSON.parse(text)).toEqual(JSON.parse(readFileSync(path, 'utf8')));
  });
});
