import type { QuestionnaireItem, QuestionnaireResponse } from '@medplum/fhirtypes';
import { CONTRAINDICATION_KEYS } from '@kap/domain';
import { ScreeningRequest } from '@kap/contracts';
import { assertBundleInvariants } from '@kap/testkit/fhir-invariants';
import { collectionBundle } from './bundle';
import { buildPatient, patientId } from './patient';
import {
  buildScreeningQuestionnaire,
  OBSERVATION_EXTRACT_EXTENSION,
  ORDINAL_VALUE_EXTENSION,
  QUESTIONNAIRE_UNIT_EXTENSION,
  SCREENING_QUESTIONNAIRE_URL,
} from './questionnaire';
import { buildScreeningQuestionnaireResponse, screeningRequestFromQuestionnaireResponse } from './questionnaire-response';
import { BASE_URL, BP_CONTRAINDICATED, ELIGIBLE_FULL, NEEDS_REVIEW, RECORDED_AT } from '@kap/testkit/fixtures';

const group = (items: QuestionnaireItem[] | undefined, linkId: string): QuestionnaireItem | undefined =>
  items?.find((i) => i.linkId === linkId);

describe('the kap-screening Questionnaire', () => {
  const q = buildScreeningQuestionnaire();

  it('is the active kap-screening canonical and passes the bundle invariants', () => {
    expect(q).toMatchObject({ id: 'kap-screening', url: SCREENING_QUESTIONNAIRE_URL, status: 'active' });
    assertBundleInvariants(collectionBundle([q], BASE_URL, RECORDED_AT));
  });

  it('asks one boolean per contraindication key, coded with our CodeSystem', () => {
    const items = group(q.item, 'contraindications')?.item ?? [];
    expect(items.map((i) => i.linkId)).toEqual([...CONTRAINDICATION_KEYS]);
    expect(items.every((i) => i.type === 'boolean' && i.code?.[0]?.code === i.linkId)).toBe(true);
  });

  it('gives vitals a LOINC code and a UCUM unit, and marks extraction where it applies', () => {
    const items = group(q.item, 'vitals')?.item ?? [];
    expect(items.map((i) => [i.linkId, i.type, i.code?.[0]?.code])).toEqual([
      ['systolic', 'integer', '8480-6'],
      ['diastolic', 'integer', '8462-4'],
      ['heartRate', 'integer', '8867-4'],
      ['spo2', 'decimal', '59408-5'],
      ['respiratoryRate', 'integer', '9279-1'],
      ['weightKg', 'decimal', '29463-7'],
    ]);
    const ext = (i: QuestionnaireItem, url: string) => i.extension?.find((e) => e.url === url);
    expect(items.map((i) => ext(i, QUESTIONNAIRE_UNIT_EXTENSION)?.valueCoding?.code)).toEqual([
      'mm[Hg]',
      'mm[Hg]',
      '/min',
      '%',
      '/min',
      'kg',
    ]);
    expect(items.map((i) => !!ext(i, OBSERVATION_EXTRACT_EXTENSION))).toEqual([false, false, true, true, true, true]);
  });

  it('has PHQ-9 and GAD-7 items with LOINC answers and ordinal values 0..3', () => {
    const phq = group(q.item, 'phq9');
    const gad = group(q.item, 'gad7');
    expect(phq?.code?.[0]?.code).toBe('44249-1');
    expect(gad?.code?.[0]?.code).toBe('69737-5');
    expect(phq?.item?.map((i) => i.linkId)).toEqual(Array.from({ length: 9 }, (_, i) => `phq9-${i + 1}`));
    expect(gad?.item?.map((i) => i.code?.[0]?.code)).toEqual(['69725-0', '68509-9', '69733-4', '69734-2', '69735-9', '69689-8', '69736-7']);
    const options = phq?.item?.[8]?.answerOption ?? [];
    expect(phq?.item?.[8]?.code?.[0]?.code).toBe('44260-8');
    expect(options.map((o) => [o.valueCoding?.code, o.extension?.find((e) => e.url === ORDINAL_VALUE_EXTENSION)?.valueDecimal])).toEqual([
      ['LA6568-5', 0],
      ['LA6569-3', 1],
      ['LA6570-1', 2],
      ['LA6571-9', 3],
    ]);
  });
});

describe('QuestionnaireResponse round trip', () => {
  it.each([
    ['eligible with all measures', ELIGIBLE_FULL],
    ['needs review', NEEDS_REVIEW],
    ['contraindicated by blood pressure', BP_CONTRAINDICATED],
  ])('%s: request -> response -> request gives the same request', (_, request) => {
    const qr = buildScreeningQuestionnaireResponse('rt', request, { reference: `Patient/${patientId(request.patient, 'default')}` });
    const parsed = screeningRequestFromQuestionnaireResponse(JSON.parse(JSON.stringify(qr)));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    // Only the identifier and a text name travel in subject; birthDate and gender stay on the Patient.
    const name = typeof request.patient.name === 'object' ? 'Ben Sample' : request.patient.name;
    const expected = { ...request, patient: { system: request.patient.system, value: request.patient.value, ...(name ? { name } : {}) } };
    expect(parsed.value).toEqual(expected);
    expect(ScreeningRequest.safeParse(parsed.value).success).toBe(true);
    assertBundleInvariants(collectionBundle([buildPatient(request.patient, 'default'), qr], BASE_URL, RECORDED_AT));
  });
});

describe('screeningRequestFromQuestionnaireResponse refuses', () => {
  const good = (): QuestionnaireResponse =>
    buildScreeningQuestionnaireResponse('bad', ELIGIBLE_FULL, { reference: `Patient/${patientId(ELIGIBLE_FULL.patient, 'default')}` });

  it('something that is not a QuestionnaireResponse', () => {
    expect(screeningRequestFromQuestionnaireResponse({ resourceType: 'Patient' })).toEqual({
      ok: false,
      issues: [expect.objectContaining({ expression: 'QuestionnaireResponse' })],
    });
    expect(screeningRequestFromQuestionnaireResponse('nope').ok).toBe(false);
  });

  it('a response to another Questionnaire, or one not completed', () => {
    const result = screeningRequestFromQuestionnaireResponse({
      ...good(),
      questionnaire: 'http://example.org/Questionnaire/x',
      status: 'in-progress',
    });
    expect(result.ok ? [] : result.issues.map((i) => i.expression)).toEqual([
      'QuestionnaireResponse.questionnaire',
      'QuestionnaireResponse.status',
    ]);
  });

  it('an unknown linkId, named by its place', () => {
    const qr = good();
    const vitals = qr.item?.[2];
    if (!vitals?.item) throw new Error('fixture');
    vitals.item[0] = { linkId: 'temperature', answer: [{ valueDecimal: 37 }] };
    const result = screeningRequestFromQuestionnaireResponse(qr);
    expect(result.ok).toBe(false);
    expect(result.ok ? undefined : result.issues[0]).toMatchObject({
      code: 'structure',
      expression: 'QuestionnaireResponse.item[2].item[0]',
    });
    expect(result.ok ? '' : result.issues[0]?.diagnostics).toContain('temperature');
  });

  it('a wrong answer type, an unknown answer code and a partly answered PHQ-9', () => {
    const qr = good();
    const [, contraindications, , phq9] = qr.item ?? [];
    if (!contraindications?.item || !phq9?.item) throw new Error('fixture');
    contraindications.item[0] = { linkId: 'notReadyForTherapy', answer: [{ valueString: 'no' }] };
    phq9.item[0] = { linkId: 'phq9-1', answer: [{ valueCoding: { system: 'http://loinc.org', code: 'LA0000-0' } }] };
    const result = screeningRequestFromQuestionnaireResponse(qr);
    expect(result.ok ? [] : result.issues.map((i) => [i.code, i.expression])).toEqual([
      ['invalid', 'QuestionnaireResponse.item[1].item[0].answer[0]'],
      ['code-invalid', 'QuestionnaireResponse.item[3].item[0].answer[0]'],
      ['required', 'QuestionnaireResponse.item[3]'],
    ]);
  });

  it('a response without the patient identifier', () => {
    const result = screeningRequestFromQuestionnaireResponse({ ...good(), subject: { display: 'Someone' } });
    expect(result.ok ? [] : result.issues.map((i) => i.expression)).toEqual(['QuestionnaireResponse.subject.identifier']);
  });
});
