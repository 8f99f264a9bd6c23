import { createHash } from 'node:crypto';
import type { Attachment, DocumentReference } from '@medplum/fhirtypes';
import { courseNoteKey } from './business-keys';
import { LOINC } from './codes';
import type { CourseNoteModel } from './course-note-model';
import { concept } from './datatypes';
import { resourceId, resourceIdentifier } from './resource-ids';
import { ADAPTER_DISPLAY } from './provenance';
import { validateResource } from './validate';

/**
 * The course note as a DocumentReference shaped as a US Core clinical note (US Core
 * "Clinical Notes" guidance): a LOINC note type, category `clinical-note`, the patient,
 * the author, the date, the course as `context.period`, and the content inline (base64
 * `data`) as HTML and PDF, so the resource is complete on its own: it is what an EHR that
 * takes nothing else stores, and what the HL7 v2 MDM^T02 is made from.
 *
 * Each version is its own DocumentReference; a newer one `replaces` the one before
 * (`relatesTo`), which is then `superseded`. In R4 `status` is the state of the reference
 * (current or superseded) and `docStatus` that of the document itself: each version is a
 * complete document, so `final`.
 * @see https://hl7.org/fhir/R4/documentreference.html
 * @see https://hl7.org/fhir/us/core/clinical-notes.html
 */

export const US_CORE_DOCUMENT_CATEGORY_SYSTEM = 'http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category';
export const CLINICAL_NOTE_CATEGORY = {
  system: US_CORE_DOCUMENT_CATEGORY_SYSTEM,
  code: 'clinical-note',
  display: 'Clinical Note',
} as const;

export const COURSE_NOTE_CONTENT_TYPES = { html: 'text/html', pdf: 'application/pdf' } as const;

export interface CourseNoteInput {
  readonly model: CourseNoteModel;
  /** 1 for the first note of the course, then one more per rebuild whose content changed. */
  readonly version: number;
  readonly html: string;
  readonly pdf: Uint8Array;
}

/** An inline attachment with the size and SHA-1 (base64) R4 defines for it. */
export function inlineAttachment(contentType: string, bytes: Uint8Array, title: string, creation: string): Attachment {
  const buffer = Buffer.from(bytes);
  return {
    contentType,
    language: 'en',
    data: buffer.toString('base64'),
    size: buffer.length,
    hash: createHash('sha1').update(buffer).digest('base64'),
    title,
    creation,
  };
}

/** The id of version `version` of a course's note (deterministic: a retried rebuild writes the same one). */
export const courseNoteId = (courseId: string, version: number): string => resourceId(courseNoteKey(courseId, version));

export function buildCourseNote(input: CourseNoteInput): DocumentReference {
  const { model, version } = input;
  if (!Number.isInteger(version) || version < 1) throw new Error('A course note version is a whole number from 1');
  const key = courseNoteKey(model.courseId, version);
  const title = `KAP course note${model.patient.name ? ` \u2014 ${model.patient.name}` : ''}`;
  const note: DocumentReference = {
    resourceType: 'DocumentReference',
    id: resourceId(key),
    identifier: [resourceIdentifier(key)],
    status: 'current',
    docStatus: 'final',
    type: concept([LOINC.progressNote]),
    category: [{ coding: [{ ...CLINICAL_NOTE_CATEGORY }], text: CLINICAL_NOTE_CATEGORY.display }],
    subject: { reference: `Patient/${model.patient.id}`, ...(model.patient.name ? { display: model.patient.name } : {}) },
    date: model.asOf,
    author: [{ display: ADAPTER_DISPLAY }],
    description: `Ketamine-assisted psychotherapy course summary, version ${version}`,
    ...(version > 1
      ? { relatesTo: [{ code: 'replaces', target: { reference: `DocumentReference/${courseNoteId(model.courseId, version - 1)}` } }] }
      : {}),
    content: [
      { attachment: inlineAttachment(COURSE_NOTE_CONTENT_TYPES.html, Buffer.from(input.html, 'utf8'), `${title} (HTML)`, model.asOf) },
      { attachment: inlineAttachment(COURSE_NOTE_CONTENT_TYPES.pdf, input.pdf, `${title} (PDF)`, model.asOf) },
    ],
    context: { period: { start: model.period.start, ...(model.period.end ? { end: model.period.end } : {}) } },
  };
  return validateResource(note);
}

/** The earlier version once a newer one replaces it: the reference is superseded, the document stays as it was. */
export function supersedeCourseNote(note: DocumentReference): DocumentReference {
  return validateResource({ ...note, status: 'superseded' });
}

/** Whether `note` already holds this HTML (the PDF is rendered from the same model): a rebuild that changes nothing writes nothing. */
export function courseNoteHolds(note: DocumentReference, html: string): boolean {
  const current = note.content.find((c) => c.attachment.contentType === COURSE_NOTE_CONTENT_TYPES.html)?.attachment.hash;
  return current === createHash('sha1').update(Buffer.from(html, 'utf8')).digest('base64');
}
