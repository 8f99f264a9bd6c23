import { randomUUID } from 'node:crypto';
import type { CourseRequest } from '@kap/contracts';
import { addDays, checkCourseStart, clinicDay, phaseOf } from '@kap/domain';
import { applyCoursePlan, badRequest, collectionBundle, conflict, notFound } from '@kap/fhir';
import {
  type TenantDb,
  getCourse,
  getScreening,
  getSyncStates,
  insertCourse,
  listCoursesForScreening,
  listDosingSessions,
  listFollowUps,
  listGoalsOfCare,
  listPatientResources,
} from '@kap/store';
import type { Reference } from '@medplum/fhirtypes';
import { saveForSync } from '@kap/queue';
import type { CommandContext, CommandResult } from '../http/command';
import type { HandlerResult } from '../http/respond';

/** How far ahead a course may be planned to start; later is a typo, not a plan. */
export const MAX_START_AHEAD_DAYS = 90;

/** A course starts on or after the day of its screening, and within MAX_START_AHEAD_DAYS of today, both on the clinic's calendar. */
function checkStartDate(startDate: string, screenedAt: string, now: Date, timeZone: string): void {
  const screenedDay = clinicDay(screenedAt, timeZone);
  if (startDate < screenedDay)
    throw badRequest(`startDate is before the screening (${screenedDay} in the clinic's time zone, ${timeZone})`, 'startDate');
  const latest = addDays(clinicDay(now, timeZone), MAX_START_AHEAD_DAYS);
  if (startDate > latest)
    throw badRequest(
      `startDate must be within ${MAX_START_AHEAD_DAYS} days from today (${clinicDay(now, timeZone)} in ${timeZone})`,
      'startDate',
    );
}

/** Starts a course from an eligible or approved screening: the PlanDefinition applied to the patient gives the CarePlan. */
export async function startCourse(request: CourseRequest, ctx: CommandContext): Promise<CommandResult> {
  const screening = await getScreening(ctx.tx, request.screeningId);
  if (!screening) throw notFound(`Screening ${request.screeningId}`);
  const refused = checkCourseStart(screening.outcome, screening.review?.decision);
  if (refused) throw conflict(refused.text);
  const [existing] = await listCoursesForScreening(ctx.tx, screening.id);
  if (existing) throw conflict(`Course ${existing.id} was already started from screening ${screening.id}`, 'duplicate');

  const startDate = request.startDate ?? clinicDay(ctx.now, ctx.tenant.timeZone);
  checkStartDate(startDate, screening.performedAt, ctx.now, ctx.tenant.timeZone);
  const courseId = randomUUID();
  const supportingInfo: Reference[] = [screening.resourceRefs.eligibility, screening.resourceRefs.questionnaireResponse]
    .filter((r): r is string => !!r)
    .map((reference) => ({ reference }));
  const carePlan = applyCoursePlan({
    courseId,
    patient: { reference: `Patient/${screening.patientId}` },
    startDate,
    supportingInfo,
    created: ctx.now.toISOString(),
  });
  const stored = await saveForSync(ctx.tx, screening.patientId, [carePlan], {
    reason: 'course-started',
    webhookUrls: ctx.webhookUrls,
    courseId,
  });
  const course = await insertCourse(ctx.tx, {
    id: courseId,
    screeningId: screening.id,
    patientId: screening.patientId,
    carePlanId: carePlan.id as string,
    startDate,
    followUpOffsets: request.followUpOffsets ?? null,
  });
  // A concurrent request started a course from the same screening first; this transaction rolls back.
  if (!course) throw conflict(`A course was already started from screening ${screening.id}`, 'duplicate');
  return {
    status: 201,
    body: { courseId, carePlanId: carePlan.id, resources: collectionBundle(stored, ctx.baseUrl) },
    written: { patientId: screening.patientId, resources: stored },
  };
}

/** The course as docs/api.md#endpoints describes it: phase, sessions, follow-ups, goals, and the sync state of each resource. */
export async function viewCourse(db: TenantDb, courseId: string): Promise<HandlerResult> {
  const course = await getCourse(db, courseId);
  if (!course) throw notFound(`Course ${courseId}`);
  // One after another: the view reads in one transaction, whose one connection runs one query at a time.
  const sessions = await listDosingSessions(db, courseId);
  const followUps = await listFollowUps(db, courseId);
  const goalsOfCare = await listGoalsOfCare(db, courseId);
  const resources = (await listPatientResources(db, course.patientId)).filter((r) => r.resourceType !== 'AuditEvent');
  const states = await getSyncStates(
    db,
    resources.map((r) => ({ type: r.resourceType, id: r.id as string })),
  );
  const goals = resources
    .filter((r) => r.resourceType === 'Goal')
    .map((g) => ({ reference: `Goal/${g.id}`, description: g.resourceType === 'Goal' ? (g.description.text ?? '') : '' }));
  return {
    status: 200,
    patientId: course.patientId,
    body: {
      courseId: course.id,
      screeningId: course.screeningId,
      patientId: course.patientId,
      carePlanId: course.carePlanId,
      startDate: course.startDate,
      followUpOffsets: course.followUpOffsets,
      status: course.stoppedReason ? 'stopped' : 'active',
      phase: phaseOf({
        sessionsRecorded: sessions.map((s) => s.sessionNumber),
        goalsOfCareRecorded: goalsOfCare.length > 0,
        stoppedReason: course.stoppedReason,
      }),
      stoppedReason: course.stoppedReason ?? null,
      sessions: sessions.map((s) => ({
        sessionId: s.id,
        sessionNumber: s.sessionNumber,
        doseLevel: s.doseLevel,
        start: s.start,
        end: s.end,
      })),
      followUps: followUps.map((f) => ({
        id: f.id,
        sessionNumber: f.sessionNumber,
        sequence: f.sequence,
        dueBy: f.dueBy,
        status: f.status,
        completedAt: f.completedAt ?? null,
      })),
      goals,
      sync: resources.map((r) => {
        const s = states.find((x) => x.type === r.resourceType && x.id === r.id);
        return {
          reference: `${r.resourceType}/${r.id}`,
          version: r.meta?.versionId ?? '',
          status: s?.status ?? 'pending',
          ehrReference: s?.ehrId ? `${r.resourceType}/${s.ehrId}` : null,
          lastError: s?.lastError ?? null,
          ...(s?.sentNote ? { sentNote: s.sentNote } : {}),
        };
      }),
    },
  };
}
