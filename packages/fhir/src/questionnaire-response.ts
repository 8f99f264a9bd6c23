import type {
  Patient,
  QuestionnaireResponse,
  Reference,
  QuestionnaireResponseItem,
  QuestionnaireResponseItemAnswer,
} from '@medplum/fhirtypes';
import { CONTRAINDICATION_KEYS, isContraindicationKey } from '@kap/domain';
import type { ScreeningRequest } from '@kap/contracts';
import { coding, FREQUENCY_ANSWERS } from './codes';
import { resourceId, resourceIdentifier } from './resource-ids';
import type { IssueInput } from './outcomes';
import { patientDisplayName } from './patient';
import {
  CONSENT_LINK_IDS,
  INSTRUMENTS,
  instrumentLinkId,
  PERFORMED_AT_LINK_ID,
  SCREENING_GROUPS,
  SCREENING_QUESTIONNAIRE_URL,
  SCREENING_QUESTIONNAIRE_VERSION,
  VITAL_ITEMS,
  type InstrumentDef,
} from './questionnaire';
import { validateResource } from './validate';
import { questionnaireResponseKey } from './business-keys';

/**
 * The completed `kap-screening` QuestionnaireResponse, in both directions: built from a REST
 * ScreeningRequest, and read back into one. Both entry points (REST and FHIR) thus go
 * through the same resource and produce the same output.
 * @see https://hl7.org/fhir/R4/questionnaireresponse.html
 */

const answerItem = (linkId: string, answer: QuestionnaireResponseItemAnswer): QuestionnaireResponseItem => ({
  linkId,
  answer: [answer],
});

/** A group with at least one answered item, or nothing: FHIR forbids empty groups. */
function group(linkId: string, items: QuestionnaireResponseItem[]): QuestionnaireResponseItem[] {
  return items.length > 0 ? [{ linkId, item: items }] : [];
}

function numberAnswer(type: 'integer' | 'decimal', value: number): QuestionnaireResponseItemAnswer {
  return type === 'integer' ? { valueInteger: value } : { valueDecimal: value };
}

function instrumentItems(def: InstrumentDef, scores: readonly number[] | undefined): QuestionnaireResponseItem[] {
  if (!scores) return [];
  return scores.map((score, index) => {
    const answer = FREQUENCY_ANSWERS[score];
    if (!answer) throw new Error(`${def.group} item ${index + 1}: score ${score} is not 0..3`);
    return answerItem(instrumentLinkId(def.group, index), { valueCoding: coding(answer) });
  });
}

/**
 * The QuestionnaireResponse a REST screening stands for. Only the contraindication items the
 * request answered are included, so reading the response back gives the same request.
 * `subject` is the tenant's Patient (`buildPatient(request.patient, tenantId)`): a patient's id
 * depends on its tenant, so there is no default.
 */
export function buildScreeningQuestionnaireResponse(
  screeningId: string,
  request: ScreeningRequest,
  subject: Reference<Patient>,
): QuestionnaireResponse {
  const key = questionnaireResponseKey(screeningId);
  const display = subject.display ?? patientDisplayName(request.patient);
  const contraindications = CONTRAINDICATION_KEYS.flatMap((k) => {
    const value = request.contraindications[k];
    return value === undefined ? [] : [answerItem(k, { valueBoolean: value })];
  });
  const vitals = VITAL_ITEMS.flatMap((v) => {
    const value = request.vitals[v.field];
    return value === undefined ? [] : [answerItem(v.field, numberAnswer(v.type, value))];
  });
  const consent = request.consent
    ? [
        answerItem(CONSENT_LINK_IDS.informed, { valueBoolean: request.consent.informed }),
        ...(request.consent.signedAt ? [answerItem(CONSENT_LINK_IDS.signedAt, { valueDateTime: request.consent.signedAt })] : []),
      ]
    : [];
  const qr: QuestionnaireResponse = {
    resourceType: 'QuestionnaireResponse',
    id: resourceId(key),
    identifier: resourceIdentifier(key),
    questionnaire: `${SCREENING_QUESTIONNAIRE_URL}|${SCREENING_QUESTIONNAIRE_VERSION}`,
    status: 'completed',
    subject: {
      reference: subject.reference,
      identifier: { system: request.patient.system, value: request.patient.value },
      ...(display ? { display } : {}),
    },
    authored: request.performedAt,
    item: [
      answerItem(PERFORMED_AT_LINK_ID, { valueDateTime: request.performedAt }),
      ...group(SCREENING_GROUPS.contraindications, contraindications),
      ...group(SCREENING_GROUPS.vitals, vitals),
      ...INSTRUMENTS.flatMap((def) => group(def.group, instrumentItems(def, request.measures?.[def.group]))),
      ...group(SCREENING_GROUPS.consent, consent),
    ],
  };
  return validateResource(qr);
}

// ---------------------------------------------------------------------------------------
// Reading a response back. The input is untrusted JSON, so it is walked as `unknown`.

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const records = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isRecord) : []);

export type ScreeningRequestParse = { ok: true; value: unknown } | { ok: false; issues: IssueInput[] };

type AnswerKind = 'valueBoolean' | 'valueDateTime' | 'number' | 'valueCoding';

class ResponseReader {
  readonly issues: IssueInput[] = [];

  issue(code: IssueInput['code'], expression: string, diagnostics: string): void {
    this.issues.push({ code, expression, diagnostics });
  }

  /** The single answer's value of `kind`, or undefined with an issue. */
  answer(item: Json, expression: string, kind: AnswerKind): unknown {
    const linkId = String(item.linkId);
    const answers = records(item.answer);
    const first = answers[0];
    if (answers.length !== 1 || !first) {
      this.issue('invalid', expression, `Item "${linkId}" must have exactly one answer`);
      return undefined;
    }
    if (kind === 'number') {
      const value = first.valueInteger ?? first.valueDecimal;
      if (typeof value === 'number') return value;
    } else if (kind === 'valueBoolean' ? typeof first[kind] === 'boolean' : first[kind] !== undefined) {
      return first[kind];
    }
    const expected = kind === 'number' ? 'valueInteger or valueDecimal' : kind;
    this.issue('invalid', `${expression}.answer[0]`, `Item "${linkId}" must be answered with ${expected}`);
    return undefined;
  }

  unknownItem(item: Json, expression: string, where: string): void {
    this.issue('structure', expression, `Unknown item linkId "${String(item.linkId)}" ${where} of the kap-screening Questionnaire`);
  }
}

function readInstrument(reader: ResponseReader, def: InstrumentDef, items: Json[], expression: string): number[] | undefined {
  const scores: (number | undefined)[] = def.items.map(() => undefined);
  items.forEach((item, j) => {
    const expr = `${expression}.item[${j}]`;
    const index = def.items.findIndex((_, i) => instrumentLinkId(def.group, i) === item.linkId);
    if (index < 0) return reader.unknownItem(item, expr, `in group "${def.group}"`);
    const value = reader.answer(item, expr, 'valueCoding');
    if (value === undefined) return;
    const code = isRecord(value) ? value.code : undefined;
    const score = FREQUENCY_ANSWERS.findIndex((a) => a.code === code);
    if (score < 0) {
      return reader.issue(
        'code-invalid',
        `${expr}.answer[0]`,
        `Item "${String(item.linkId)}": ${String(code)} is not an answer of the list`,
      );
    }
    scores[index] = score;
  });
  if (scores.every((s) => s === undefined)) return undefined;
  if (scores.some((s) => s === undefined)) {
    reader.issue('required', expression, `Group "${def.group}" must answer all ${def.items.length} items or none`);
    return undefined;
  }
  return scores as number[];
}

/**
 * Reads a completed `kap-screening` QuestionnaireResponse into the plain object shape of the
 * REST ScreeningRequest; the caller validates that with the same zod schema as the REST body.
 * Structural problems (wrong Questionnaire, status, unknown linkId, wrong answer type) are
 * issues whose `expression` names the place, e.g. `QuestionnaireResponse.item[2].item[0]`.
 * The patient comes from `subject.identifier` and `subject.display` (as a text name).
 */
export function screeningRequestFromQuestionnaireResponse(qr: unknown): ScreeningRequestParse {
  const reader = new ResponseReader();
  const root = 'QuestionnaireResponse';
  if (!isRecord(qr) || qr.resourceType !== 'QuestionnaireResponse') {
    return { ok: false, issues: [{ code: 'invalid', expression: root, diagnostics: 'Expected a QuestionnaireResponse' }] };
  }
  const canonical = str(qr.questionnaire);
  if (canonical?.split('|')[0] !== SCREENING_QUESTIONNAIRE_URL) {
    reader.issue(
      'invalid',
      `${root}.questionnaire`,
      `questionnaire must be ${SCREENING_QUESTIONNAIRE_URL}, got ${String(qr.questionnaire)}`,
    );
  }
  if (qr.status !== 'completed') {
    reader.issue('invalid', `${root}.status`, `status must be "completed", got ${JSON.stringify(qr.status ?? null)}`);
  }
  const subject = isRecord(qr.subject) ? qr.subject : {};
  const identifier = isRecord(subject.identifier) ? subject.identifier : {};
  const system = str(identifier.system);
  const value = str(identifier.value);
  if (!system || !value) {
    reader.issue('required', `${root}.subject.identifier`, 'subject.identifier with system and value identifies the patient');
  }
  const name = str(subject.display);

  let performedAt: unknown = qr.authored;
  const contraindications: Json = {};
  const vitals: Json = {};
  const measures: Json = {};
  let consent: Json | undefined;

  records(qr.item).forEach((item, i) => {
    const expr = `${root}.item[${i}]`;
    const children = records(item.item);
    switch (item.linkId) {
      case PERFORMED_AT_LINK_ID:
        performedAt = reader.answer(item, expr, 'valueDateTime') ?? performedAt;
        return;
      case SCREENING_GROUPS.contraindications:
        return children.forEach((child, j) => {
          const key = String(child.linkId);
          if (!isContraindicationKey(key)) return reader.unknownItem(child, `${expr}.item[${j}]`, 'in group "contraindications"');
          const answer = reader.answer(child, `${expr}.item[${j}]`, 'valueBoolean');
          if (answer !== undefined) contraindications[key] = answer;
        });
      case SCREENING_GROUPS.vitals:
        return children.forEach((child, j) => {
          const def = VITAL_ITEMS.find((v) => v.field === child.linkId);
          if (!def) return reader.unknownItem(child, `${expr}.item[${j}]`, 'in group "vitals"');
          const answer = reader.answer(child, `${expr}.item[${j}]`, 'number');
          if (answer !== undefined) vitals[def.field] = answer;
        });
      case SCREENING_GROUPS.phq9:
      case SCREENING_GROUPS.gad7: {
        const def = INSTRUMENTS.find((d) => d.group === item.linkId);
        const scores = def ? readInstrument(reader, def, children, expr) : undefined;
        if (def && scores) measures[def.group] = scores;
        return;
      }
      case SCREENING_GROUPS.consent:
        consent = {};
        return children.forEach((child, j) => {
          const childExpr = `${expr}.item[${j}]`;
          if (child.linkId === CONSENT_LINK_IDS.informed) {
            const answer = reader.answer(child, childExpr, 'valueBoolean');
            if (answer !== undefined && consent) consent.informed = answer;
          } else if (child.linkId === CONSENT_LINK_IDS.signedAt) {
            const answer = reader.answer(child, childExpr, 'valueDateTime');
            if (answer !== undefined && consent) consent.signedAt = answer;
          } else {
            reader.unknownItem(child, childExpr, 'in group "consent"');
          }
        });
      default:
        return reader.unknownItem(item, expr, 'at the top level');
    }
  });
  if (performedAt === undefined) {
    reader.issue('required', `${root}.authored`, 'authored (or the performedAt item) gives the screening time');
  }
  if (reader.issues.length > 0) return { ok: false, issues: reader.issues };
  return {
    ok: true,
    value: {
      patient: { system, value, ...(name ? { name } : {}) },
      performedAt,
      contraindications,
      vitals,
      ...(Object.keys(measures).length > 0 ? { measures } : {}),
      ...(consent ? { consent } : {}),
    },
  };
}
