import { createHash } from 'node:crypto';
import { Hl7Context, Hl7Message, Hl7Segment } from '@medplum/core';
import type { Attachment, CodeableConcept, DocumentReference, Observation, Patient, Quantity, Resource } from '@medplum/fhirtypes';
import { HL7, LOINC, LOINC_SYSTEM } from './codes';

/**
 * HL7 v2.5.1 messages for the hospital's interface engine, built from stored FHIR resource
 * versions: ORU^R01 for a vital-sign Observation or a PHQ-9/GAD-7 total, MDM^T02 for a
 * clinical note (any DocumentReference). Pure: the worker sends them over MLLP.
 *
 * Every text value goes through `esc`: @medplum/core joins components as given and escapes
 * nothing, so a `|^~\&` in a note or a name would otherwise break the message's structure.
 */

export const HL7_OUT_VERSION = '2.5.1';

/** Who sends and who receives: MSH-3..6, and the PID-3 assigning authorities. */
export interface V2OutSettings {
  readonly sendingApplication: string;
  readonly sendingFacility: string;
  readonly receivingApplication?: string;
  readonly receivingFacility?: string;
  /** Identifier system → assigning authority (CX.4.1): the inverse of HL7_ASSIGNING_AUTHORITIES, as the inbound feed reads PID-3. */
  readonly authorityBySystem: ReadonlyMap<string, string>;
  /** MSH-11: `P` production, `T` a test message (the preflight). */
  readonly processingId?: 'P' | 'T';
}

export class V2BuildError extends Error {
  override name = 'V2BuildError';
}

export type V2MessageKind = 'ORU^R01' | 'MDM^T02';

const SCORE_CODES = new Set([LOINC.phq9Total.code, LOINC.gad7Total.code]);
const VITAL_SIGNS = HL7.vitalSignsCategory;

/** Which message a resource becomes, or undefined when it is not sent as HL7 v2. */
export function v2MessageKind(resource: Resource): V2MessageKind | undefined {
  // A version that only marks a note superseded is not sent: its replacement's TXA-13 names it.
  if (resource.resourceType === 'DocumentReference') return (resource as DocumentReference).status === 'superseded' ? undefined : 'MDM^T02';
  if (resource.resourceType !== 'Observation') return undefined;
  const obs = resource as Observation;
  const isVital = obs.category?.some((c) => c.coding?.some((k) => k.system === VITAL_SIGNS.system && k.code === VITAL_SIGNS.code));
  const isScore = obs.code?.coding?.some((k) => k.system === LOINC_SYSTEM && SCORE_CODES.has(k.code ?? ''));
  return isVital || isScore ? 'ORU^R01' : undefined;
}

/**
 * MSH-10 of a resource version: the same on every retry (the engine dedupes on it), new for
 * each version. MSH-10 is at most 20 characters in v2.5.1, so it is a digest of the version's
 * reference (76 bits: no collision in any realistic volume), not the reference itself.
 */
export function v2ControlId(resourceType: string, id: string, version: string): string {
  return `K${createHash('sha256').update(`${resourceType}/${id}/_history/${version}`).digest('hex').slice(0, 19).toUpperCase()}`;
}

/** Escapes the standard delimiters and the escape character (v2.5.1 §2.7); line breaks become spaces. */
export function esc(text: string): string {
  return text.replace(/[\\|^~&\r\n]/g, (c) => ({ '\\': '\\E\\', '|': '\\F\\', '^': '\\S\\', '~': '\\R\\', '&': '\\T\\' })[c] ?? ' ');
}

/** Formatted text (FT): escaped, with each line break as `\.br\`. */
export function formattedText(text: string): string {
  return text
    .split(/\r\n|\r|\n/)
    .map(esc)
    .join('\\.br\\');
}

/** A field of components, each escaped; trailing empty components left off. */
function comp(...components: (string | undefined)[]): string {
  const parts = components.map((c) => esc(c ?? ''));
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts.join('^');
}

/** DTM from a FHIR instant or dateTime, kept to the precision given, in UTC when it has a time. */
export function v2DateTime(value: string | undefined): string {
  if (!value) return '';
  if (/^\d{4}(-\d{2}(-\d{2})?)?$/.test(value)) return value.replace(/-/g, '');
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) return '';
  return `${at.toISOString().replace(/[-:T]/g, '').slice(0, 14)}+0000`;
}

const CONTEXT = new Hl7Context();

function segment(name: string, fields: readonly string[]): Hl7Segment {
  const trimmed = [...fields];
  while (trimmed.length > 0 && trimmed[trimmed.length - 1] === '') trimmed.pop();
  return new Hl7Segment([name, ...trimmed], CONTEXT);
}

function msh(kind: V2MessageKind, controlId: string, settings: V2OutSettings, now: Date): Hl7Segment {
  const [type, trigger] = kind.split('^') as [string, string];
  const structure = kind === 'ORU^R01' ? 'ORU_R01' : 'MDM_T02';
  // MSH-2 is the encoding characters themselves, not escaped.
  return new Hl7Segment(
    [
      'MSH',
      CONTEXT.getMsh2(),
      comp(settings.sendingApplication),
      comp(settings.sendingFacility),
      comp(settings.receivingApplication),
      comp(settings.receivingFacility),
      v2DateTime(now.toISOString()),
      '',
      `${type}^${trigger}^${structure}`,
      controlId,
      settings.processingId ?? 'P',
      HL7_OUT_VERSION,
      '',
      '',
      // MSH-15/16 empty: original-mode acknowledgement, the engine answers each message AA, AE or AR.
      '',
      '',
      '',
      'UNICODE UTF-8',
    ],
    CONTEXT,
  );
}

/** PID for the patient: PID-3 carries each identifier whose system has an assigning authority; none is an error. */
function pid(patient: Patient, settings: V2OutSettings): Hl7Segment {
  const ids = (patient.identifier ?? []).flatMap((i) => {
    const authority = i.system ? settings.authorityBySystem.get(i.system) : undefined;
    return authority && i.value ? [comp(i.value, '', '', authority, 'MR')] : [];
  });
  if (ids.length === 0) {
    throw new V2BuildError(
      `Patient/${patient.id} has no identifier of a system in HL7_ASSIGNING_AUTHORITIES: the engine could not match it`,
    );
  }
  const name = patient.name?.[0];
  const gender = { male: 'M', female: 'F', other: 'O', unknown: 'U' }[patient.gender ?? 'unknown'] ?? 'U';
  return segment('PID', [
    '1',
    '',
    ids.join('~'),
    '',
    comp(name?.family, name?.given?.[0], name?.given?.slice(1).join(' ')),
    '',
    v2DateTime(patient.birthDate),
    gender,
  ]);
}

/** CE/CWE from a CodeableConcept: its LOINC coding when it has one (`LN`), else its first coding (`99KAP`, local). */
function codedElement(concept: CodeableConcept | undefined): string {
  const coding = concept?.coding?.find((c) => c.system === LOINC_SYSTEM) ?? concept?.coding?.[0];
  if (!coding?.code) return comp('', concept?.text);
  return comp(coding.code, coding.display ?? concept?.text, coding.system === LOINC_SYSTEM ? 'LN' : '99KAP');
}

/** OBX-11 / OBR-25 (table 0085) from Observation.status. */
function resultStatus(status: Observation['status']): string {
  switch (status) {
    case 'final':
      return 'F';
    case 'amended':
    case 'corrected':
      return 'C';
    case 'entered-in-error':
      return 'W';
    case 'cancelled':
      return 'X';
    default:
      return 'P';
  }
}

function units(q: Quantity | undefined): string {
  return q?.code ? comp(q.code, q.unit ?? q.code, q.system === 'http://unitsofmeasure.org' ? 'UCUM' : '') : '';
}

function numeric(q: Quantity | undefined): string {
  return q?.value === undefined ? '' : String(q.value);
}

/**
 * ORU^R01 for one Observation version: OBR-4 is the Observation's code, then one OBX per
 * value (a blood pressure's systolic and diastolic components each get theirs). A PHQ-9 or
 * GAD-7 total is an NM OBX followed by a CWE OBX with its severity band under the same
 * sub-id (OBX-4): v2.5.1's OBX-8 is table 0078's abnormal flags, which have no severity bands.
 */
export function buildOru(observation: Observation, patient: Patient, controlId: string, settings: V2OutSettings, now: Date): Hl7Message {
  const status = resultStatus(observation.status);
  const when = v2DateTime(observation.effectiveDateTime ?? observation.issued);
  const obx: string[][] = [];
  const add = (type: string, code: string, value: string, unit: string, subId = ''): void => {
    obx.push([String(obx.length + 1), type, code, subId, value, unit, '', '', '', '', status, '', '', when]);
  };
  if (observation.valueQuantity)
    add('NM', codedElement(observation.code), numeric(observation.valueQuantity), units(observation.valueQuantity));
  for (const c of observation.component ?? []) {
    if (c.valueQuantity) add('NM', codedElement(c.code), numeric(c.valueQuantity), units(c.valueQuantity));
  }
  if (observation.valueInteger !== undefined) {
    add('NM', codedElement(observation.code), String(observation.valueInteger), comp('{score}', 'score', 'UCUM'), '1');
    const band = observation.interpretation?.[0];
    if (band) add('CWE', comp('SEVERITY', 'Severity band', '99KAP'), codedElement(band), '', '1');
  }
  if (obx.length === 0) throw new V2BuildError(`Observation/${observation.id} has no value to send`);
  const fillerOrder = comp(observation.id, settings.sendingApplication);
  return new Hl7Message(
    [
      msh('ORU^R01', controlId, settings, now),
      pid(patient, settings),
      segment('OBR', [
        '1',
        '',
        fillerOrder,
        codedElement(observation.code),
        '',
        '',
        when,
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        v2DateTime(observation.issued),
        '',
        '',
        status,
      ]),
      ...obx.map((fields) => segment('OBX', fields)),
    ],
    CONTEXT,
  );
}

/** TXA-17 document completion status (table 0271) from DocumentReference.docStatus. */
function completionStatus(doc: DocumentReference): string {
  if (doc.docStatus === 'preliminary') return 'IP';
  if (doc.docStatus === 'entered-in-error') return 'IN';
  return 'AU';
}

/** The note's text from its HTML: the engine's text OBX carries readable lines, not markup. */
export function htmlToLines(html: string): string {
  const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };
  return html
    .replace(/<(script|style|head)[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|h[1-6]|li|tr|table|section|ul|ol)>/gi, '\n')
    .replace(/<(td|th)[^>]*>/gi, ' ')
    .replace(/<[^>]+>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) =>
      e[0] === '#'
        ? String.fromCodePoint(e[1]?.toLowerCase() === 'x' ? parseInt(e.slice(2), 16) : Number(e.slice(1)))
        : (entities[e.toLowerCase()] ?? m),
    )
    .split('\n')
    .map((l) => l.replace(/[ \t]+/g, ' ').trim())
    .filter((l, i, all) => l !== '' || (i > 0 && all[i - 1] !== ''))
    .join('\n')
    .trim();
}

/** TXA-12: one number per document version, so an engine can tell a new version from a repeat. */
export function documentNumber(id: string, version: string): string {
  return `${id}_${version}`;
}

/**
 * The document version this one supersedes (TXA-13): the `relatesTo` replaces target (its
 * version from the reference's `_history`, else `replacedVersion`: its last `current` version,
 * the one sent as MDM, which the caller reads from the store), else the previous version of
 * this same DocumentReference.
 */
function replacedDocument(doc: DocumentReference, replacedVersion: string | undefined): { id: string; version: string } | undefined {
  const target = doc.relatesTo?.find((r) => r.code === 'replaces')?.target?.reference;
  const match = target ? /^(?:DocumentReference\/)?([^/]+)(?:\/_history\/([^/]+))?$/.exec(target) : null;
  if (match?.[1]) return { id: match[1], version: match[2] ?? replacedVersion ?? '1' };
  const version = Number(doc.meta?.versionId ?? '1');
  return doc.id && version > 1 ? { id: doc.id, version: String(version - 1) } : undefined;
}

/** The `relatesTo` replaces target without a version, whose last sent (`current`) version the caller looks up for TXA-13. */
export function unversionedReplacedId(doc: DocumentReference): string | undefined {
  const target = doc.relatesTo?.find((r) => r.code === 'replaces')?.target?.reference;
  const match = target ? /^(?:DocumentReference\/)?([^/]+)$/.exec(target) : null;
  return match?.[1];
}

function attachmentOf(doc: DocumentReference, contentType: string): Attachment | undefined {
  return doc.content?.map((c) => c.attachment).find((a) => a?.contentType?.split(';')[0]?.trim().toLowerCase() === contentType && a.data);
}

/**
 * MDM^T02 for one DocumentReference version: TXA (document type = the LOINC note type, status,
 * unique document number `id_version`, parent = the document it replaces) and the content as
 * OBX: the PDF as ED (`^AP^PDF^Base64^…`, base64 needs no escaping), the HTML as FT lines.
 * Attachments by URL only are not fetched: a note needs inline data to be sent.
 */
export function buildMdm(
  doc: DocumentReference,
  patient: Patient,
  controlId: string,
  settings: V2OutSettings,
  now: Date,
  options: { readonly replacedVersion?: string } = {},
): Hl7Message {
  const version = doc.meta?.versionId ?? '1';
  const typeCoding = doc.type?.coding?.find((c) => c.system === LOINC_SYSTEM) ?? doc.type?.coding?.[0];
  const typeCe = codedElement(doc.type);
  const obx: string[][] = [];
  const html = attachmentOf(doc, 'text/html');
  const plain = attachmentOf(doc, 'text/plain');
  const pdf = attachmentOf(doc, 'application/pdf');
  const text = html?.data
    ? htmlToLines(Buffer.from(html.data, 'base64').toString('utf8'))
    : plain?.data
      ? Buffer.from(plain.data, 'base64').toString('utf8')
      : undefined;
  if (text !== undefined) obx.push([String(obx.length + 1), 'FT', typeCe, '1', formattedText(text), '', '', '', '', '', 'F']);
  if (pdf?.data)
    obx.push([
      String(obx.length + 1),
      'ED',
      typeCe,
      '2',
      ['', 'AP', 'PDF', 'Base64', pdf.data.replace(/\s+/g, '')].join('^'),
      '',
      '',
      '',
      '',
      '',
      'F',
    ]);
  if (obx.length === 0)
    throw new V2BuildError(`DocumentReference/${doc.id} has no inline text/html, text/plain or application/pdf content to send`);
  const replaced = replacedDocument(doc, options.replacedVersion);
  const parent = replaced ? comp(documentNumber(replaced.id, replaced.version), settings.sendingApplication) : '';
  const author = doc.author?.[0];
  const authorId = author?.reference?.split('/')[1];
  const created = v2DateTime(doc.date ?? doc.meta?.lastUpdated);
  const txa = [
    '1',
    esc(typeCoding?.code ?? 'CN'),
    text !== undefined ? 'FT' : 'AP',
    v2DateTime(doc.context?.period?.end ?? doc.context?.period?.start ?? doc.date),
    '',
    created,
    '',
    '',
    authorId || author?.display ? comp(authorId, author?.display) : '',
    '',
    '',
    comp(documentNumber(doc.id ?? '', version), settings.sendingApplication),
    parent,
    '',
    '',
    '',
    completionStatus(doc),
    '',
    doc.status === 'current' ? 'AV' : 'OB',
  ];
  return new Hl7Message(
    [
      msh('MDM^T02', controlId, settings, now),
      segment('EVN', ['T02', v2DateTime(now.toISOString())]),
      pid(patient, settings),
      // PV1 is required in MDM_T02; the note belongs to no one visit the engine knows.
      segment('PV1', ['1', 'N']),
      segment('TXA', txa),
      ...obx.map((fields) => segment('OBX', fields)),
    ],
    CONTEXT,
  );
}
