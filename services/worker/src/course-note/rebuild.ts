import { clinicTimeZone, type Config } from '@kap/config';
import { buildCourseNote, courseNoteHolds, courseNoteHtml, courseNoteId, supersedeCourseNote } from '@kap/fhir';
import { saveForSync } from '@kap/queue';
import { readResource, type TenantDb } from '@kap/store';
import type { DocumentReference } from '@medplum/fhirtypes';
import { renderCourseNotePdf } from './pdf-thread';
import { readCourseNoteModel } from './read-model';

export type RebuildResult =
  | { readonly outcome: 'written'; readonly version: number; readonly note: string }
  | { readonly outcome: 'unchanged'; readonly version: number }
  | { readonly outcome: 'obsolete' };

/** The zone the note's times are shown in: the clinic's (`CLINIC_TIME_ZONE`, else UTC); the note names it. */
export function noteTimeZone(config: Config): string {
  return clinicTimeZone(config);
}

/** The course's newest note and its version, found by the versions' deterministic ids. */
export async function currentCourseNote(db: TenantDb, courseId: string): Promise<{ note: DocumentReference; version: number } | undefined> {
  let found: { note: DocumentReference; version: number } | undefined;
  for (let version = 1; ; version++) {
    const note = await readResource<DocumentReference>(db, 'DocumentReference', courseNoteId(courseId, version));
    if (!note) return found;
    found = { note, version };
  }
}

/**
 * Rebuilds a course's note from what is stored now, in one transaction: when its content
 * differs from the current version's, a new version that replaces it is saved for sync and
 * the old one is marked superseded; when it is the same, nothing is written. The caller
 * holds the course's note lease, so two rebuilds never make the same version.
 */
export async function rebuildCourseNote(
  db: TenantDb,
  courseId: string,
  options: {
    readonly timeZone: string;
    readonly webhookUrls?: readonly string[];
    /** The tenant sends notes to an interface engine too (MDM^T02). */
    readonly hl7Out?: boolean;
  },
): Promise<RebuildResult> {
  return db.transaction(async (tx) => {
    const model = await readCourseNoteModel(tx, courseId);
    if (!model) return { outcome: 'obsolete' };
    const html = courseNoteHtml(model, { timeZone: options.timeZone });
    const current = await currentCourseNote(tx, courseId);
    if (current && courseNoteHolds(current.note, html)) return { outcome: 'unchanged', version: current.version };
    const version = (current?.version ?? 0) + 1;
    const pdf = await renderCourseNotePdf(model, { timeZone: options.timeZone });
    const note = buildCourseNote({ model, version, html, pdf });
    const changed = current ? [supersedeCourseNote(current.note), note] : [note];
    await saveForSync(tx, model.patient.id, changed, {
      reason: 'course-note',
      ...(options.webhookUrls ? { webhookUrls: options.webhookUrls } : {}),
      ...(options.hl7Out ? { hl7Out: true } : {}),
    });
    return { outcome: 'written', version, note: `DocumentReference/${note.id}` };
  });
}
