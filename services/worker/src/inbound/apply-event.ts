import { inboundCareTeamKey } from '@kap/fhir';
import type { PatientEvent } from '@kap/inbound';
import { WORK, enqueueWork, saveForSync, stopCourseWithFollowUps } from '@kap/queue';
import {
  assignIdentifiers,
  findPatientIdByEhrId,
  findPatientIds,
  linkMergedPatient,
  listActiveCourseIds,
  patientWithMerged,
  patientsWaitingForEhrPatient,
  putResources,
  readResource,
  type TenantDb,
} from '@kap/store';
import type { Patient } from '@medplum/fhirtypes';

export interface ApplyContext {
  /** The stored message, for deterministic resource keys. */
  readonly messageId: number;
  readonly at: string;
  readonly webhookUrls: readonly string[];
}

/** What one event did, kept with the message for operators (ids only). */
export interface EventOutcome {
  readonly patientId?: string;
  readonly matched: 'patient' | 'unknown' | 'ambiguous';
  readonly stoppedCourses?: string[];
  readonly cancelledFollowUps?: number;
  readonly demographicsUpdated?: boolean;
  readonly merged?: string[];
}

/**
 * Applies one patient event in the caller's transaction (docs/api.md#inbound-events-from-the-ehr): a
 * death or a stop disposition stops every running course of the patient (and of patients
 * merged into them) and tells the care team; A08 demographics update the Patient and are
 * pushed to the EHR; an A40 merge re-points the merged patient to the survivor. A patient
 * the adapter does not know changes nothing.
 */
export async function applyPatientEvent(tx: TenantDb, event: PatientEvent, ctx: ApplyContext): Promise<EventOutcome> {
  if (event.mergedIdentifiers) return applyMerge(tx, event, ctx);
  const ids = await findPatientIds(tx, event.identifiers);
  if (ids.length === 0 && event.ehrPatientId) {
    const byEhrId = await findPatientIdByEhrId(tx, event.ehrPatientId);
    if (byEhrId) ids.push(byEhrId);
  }
  if (ids.length === 0) return { matched: 'unknown' };
  // The identifiers of one message lead to two of our patients: guessing could stop the wrong person's course.
  if (ids.length > 1) return { matched: 'ambiguous' };
  const patientId = ids[0] as string;

  let patient = await readResource<Patient>(tx, 'Patient', patientId);
  const changed: Partial<Patient> = {};
  if (event.demographics?.name) changed.name = [...event.demographics.name];
  if (event.demographics?.birthDate) changed.birthDate = event.demographics.birthDate;
  if (event.demographics?.gender) changed.gender = event.demographics.gender;
  const demographicsUpdated = !!patient && Object.keys(changed).length > 0;
  if (patient && (demographicsUpdated || event.courseEnd === 'deceased')) {
    const { deceasedBoolean: _b, deceasedDateTime: _d, ...rest } = patient;
    const deceased =
      event.courseEnd === 'deceased'
        ? event.deceasedAt
          ? { deceasedDateTime: event.deceasedAt }
          : { deceasedBoolean: true }
        : { ...(_b !== undefined ? { deceasedBoolean: _b } : {}), ...(_d !== undefined ? { deceasedDateTime: _d } : {}) };
    patient = { ...rest, ...changed, ...deceased };
    await saveForSync(tx, patientId, [patient], { reason: 'hospital-patient-update' });
    if (demographicsUpdated) {
      await enqueueWork(tx, WORK.patientDemographics, { patientId }, { patientId });
      // The course note names the patient: a running course's note is rebuilt with the new demographics.
      for (const courseId of await listActiveCourseIds(tx, [patientId]))
        await enqueueWork(tx, WORK.courseNote, { courseId }, { patientId });
    }
  } else if ((await patientsWaitingForEhrPatient(tx, patientId)).length > 0) {
    // An ADT for a patient whose sync waits for the hospital's Patient in the EHR: it is
    // likely there now (registered or updated), so the sync looks again at once.
    await enqueueWork(tx, WORK.ehrSync, { patientId, reason: 'hospital-patient-event' }, { patientId });
  }

  const stoppedCourses: string[] = [];
  let cancelledFollowUps = 0;
  if (event.courseEnd) {
    for (const courseId of await listActiveCourseIds(tx, await patientWithMerged(tx, patientId))) {
      const stopped = await stopCourseWithFollowUps(tx, courseId, {
        reason: event.courseEnd,
        at: ctx.at,
        webhookUrls: ctx.webhookUrls,
        outboxReason: `hospital-${event.courseEnd}`,
        tellCareTeam: {
          key: inboundCareTeamKey(ctx.messageId, courseId),
          text: `${event.endReason ?? 'The hospital ended the course.'} The KAP course was stopped (${event.courseEnd}) and its pending follow-ups were cancelled.`,
        },
      });
      if (!stopped) continue;
      stoppedCourses.push(courseId);
      cancelledFollowUps += stopped.cancelled.length;
    }
  }
  return { patientId, matched: 'patient', stoppedCourses, cancelledFollowUps, demographicsUpdated };
}

/**
 * A40: the MRG patient is merged into the PID one. Whichever of the two the adapter knows
 * survives here; the identifiers of both now lead to it, and a merged record of ours is
 * marked inactive and `replaced-by` the survivor (https://hl7.org/fhir/R4/patient.html#links).
 */
async function applyMerge(tx: TenantDb, event: PatientEvent, ctx: ApplyContext): Promise<EventOutcome> {
  void ctx;
  const survivors = await findPatientIds(tx, event.identifiers);
  const mergedIds = await findPatientIds(tx, event.mergedIdentifiers ?? []);
  if (survivors.length > 1) return { matched: 'ambiguous' };
  const survivorId = survivors[0] ?? mergedIds[0];
  if (!survivorId) return { matched: 'unknown' };
  const merged: string[] = [];
  for (const mergedId of mergedIds) {
    if (mergedId === survivorId) continue;
    await linkMergedPatient(tx, mergedId, survivorId);
    const old = await readResource<Patient>(tx, 'Patient', mergedId);
    if (old) {
      await putResources(tx, [{ ...old, active: false, link: [{ other: { reference: `Patient/${survivorId}` }, type: 'replaced-by' }] }], {
        patientId: mergedId,
      });
    }
    merged.push(mergedId);
  }
  const all = [...event.identifiers, ...(event.mergedIdentifiers ?? [])];
  await assignIdentifiers(tx, all, survivorId);
  const survivor = await readResource<Patient>(tx, 'Patient', survivorId);
  if (survivor) {
    const known = new Set((survivor.identifier ?? []).map((i) => `${i.system}|${i.value}`));
    const added = all.filter((i) => !known.has(`${i.system}|${i.value}`)).map((i) => ({ system: i.system, value: i.value }));
    // Appended: the first hospital identifier stays the one the EHR sync finds the Patient by.
    if (added.length > 0)
      await putResources(tx, [{ ...survivor, identifier: [...(survivor.identifier ?? []), ...added] }], { patientId: survivorId });
  }
  return { patientId: survivorId, matched: 'patient', merged };
}
