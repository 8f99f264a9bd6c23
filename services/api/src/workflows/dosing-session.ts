import { randomUUID } from 'node:crypto';
import type { DosingSessionRequest } from '@kap/contracts';
import {
  PLANNED_DOSE_LEVEL,
  checkDosingSession,
  checkNotBeforeCourse,
  parseDurationMs,
  parseFollowUpOffsets,
  planFollowUps,
} from '@kap/domain';
import {
  badRequest,
  buildCareTeamCommunication,
  buildDosingSessionResources,
  buildFollowUpTask,
  buildProvenance,
  collectionBundle,
  conflict,
  dosingSessionKey,
  provenanceKey,
  recordSessionOnCarePlan,
  sessionAlertKey,
} from '@kap/fhir';
import { WORK, saveForSync, workRequest } from '@kap/queue';
import { insertDosingSessionWithFollowUps, setFollowUpTask } from '@kap/store';
import type { Patient, Reference, Resource, Task } from '@medplum/fhirtypes';
import type { CommandContext, CommandResult } from '../http/command';
import type { SessionSettings } from '../http/tenant-settings';
import { raiseAlerts } from './alerts';
import { loadCourse } from './course-state';

/**
 * Records a dosing session: the FHIR record of the visit, the CarePlan's progress, and the
 * integration follow-ups inside the neuroplasticity window, each a Task with a due time
 * whose reminder and escalation jobs the outbox schedules.
 */
export async function recordDosingSession(
  courseId: string,
  request: DosingSessionRequest,
  ctx: CommandContext,
  settings: SessionSettings,
): Promise<CommandResult> {
  const { course, facts, carePlan, screening } = await loadCourse(ctx.tx, courseId);
  const refused = checkDosingSession(facts, request.sessionNumber);
  if (refused) throw conflict(refused.text);
  const plannedLevel = PLANNED_DOSE_LEVEL[request.sessionNumber];
  if (request.doseLevel !== plannedLevel && !request.doseDeviationReason) {
    throw conflict(
      `Dosing session ${request.sessionNumber} plans a ${plannedLevel} dose; a ${request.doseLevel} dose needs doseDeviationReason`,
      'business-rule',
      'doseLevel',
    );
  }
  if (screening && Date.parse(request.start) < Date.parse(screening.performedAt)) {
    throw badRequest(`start is before the course's screening (${screening.performedAt})`, 'start');
  }
  const early = checkNotBeforeCourse(course.startDate, request.start, ctx.tenant.timeZone, 'start');
  if (early) throw conflict(early.text, 'business-rule', 'start');

  const recordedAt = ctx.now.toISOString();
  const sessionId = randomUUID();
  const patient: Reference<Patient> = { reference: `Patient/${course.patientId}` };
  const session = buildDosingSessionResources({
    courseId,
    sessionId,
    sessionNumber: request.sessionNumber,
    patient,
    carePlan: { reference: `CarePlan/${carePlan.id}` },
    request,
    recordedAt,
    alertThreshold: settings.alertThreshold,
    timeZone: ctx.tenant.timeZone,
  });
  const offsets = parseFollowUpOffsets(course.followUpOffsets?.join(',') ?? settings.followUpOffsets);
  const planned = planFollowUps(new Date(request.end), offsets);
  const lead = parseDurationMs(settings.reminderLead);
  const taskOf = (f: { id: string; sessionNumber: number; sequence: number; dueBy: string }): Task =>
    buildFollowUpTask({
      followUpId: f.id,
      courseId,
      sessionNumber: f.sessionNumber,
      sequence: f.sequence,
      dueBy: f.dueBy,
      patient,
      carePlan: { reference: `CarePlan/${carePlan.id}` },
      sessionProcedure: { reference: `Procedure/${session.procedure.id}` },
      authoredOn: recordedAt,
    });
  // Each follow-up is stored with its Task's id, and with the session, in one statement.
  const intended = planned.map((p) => ({
    id: randomUUID(),
    courseId,
    sessionNumber: request.sessionNumber,
    sequence: p.sequence,
    dueBy: p.dueBy.toISOString(),
  }));
  const intendedTasks = intended.map(taskOf);
  const recorded = await insertDosingSessionWithFollowUps(
    ctx.tx,
    {
      id: sessionId,
      courseId,
      sessionNumber: request.sessionNumber,
      start: request.start,
      end: request.end,
      doseLevel: request.doseLevel,
      resourceRefs: { procedure: `Procedure/${session.procedure.id}`, encounter: `Encounter/${session.encounter.id}` },
    },
    intended.map((f, i) => ({ ...f, taskId: intendedTasks[i]?.id as string })),
  );
  // Another request recorded this session number first; this transaction rolls back.
  if (!recorded.session) throw conflict(`Dosing session ${request.sessionNumber} is already recorded for this course`);
  const followUps = recorded.followUps;
  const tasks: Task[] = [];
  for (const [i, f] of followUps.entries()) {
    if (f.id === intended[i]?.id) {
      tasks.push(intendedTasks[i] as Task);
      continue;
    }
    // A follow-up already stored under this key keeps its id; its Task is named after it.
    const task = taskOf(f);
    await setFollowUpTask(ctx.tx, f.id, task.id as string);
    tasks.push(task);
  }

  const produced: Resource[] = [...session.all, recordSessionOnCarePlan(carePlan, request.sessionNumber), ...tasks];
  if (session.alert) {
    produced.push(
      buildCareTeamCommunication({
        key: sessionAlertKey(courseId, request.sessionNumber),
        patient,
        about: [{ reference: `Flag/${session.alert.flag.id}` }, { reference: `DetectedIssue/${session.alert.detectedIssue.id}` }],
        category: 'blood-pressure-alert',
        text: session.alert.detectedIssue.detail ?? 'In-session blood pressure above the alert threshold',
        sent: recordedAt,
        priority: 'urgent',
      }),
    );
  }
  produced.push(
    buildProvenance({
      key: provenanceKey(dosingSessionKey(courseId, request.sessionNumber)),
      targets: produced.map((r) => ({ reference: `${r.resourceType}/${r.id}` })),
      recorded: recordedAt,
      activity: 'CREATE',
      reason: `Dosing session ${request.sessionNumber} recorded`,
    }),
  );
  const schedules = followUps.map((f) => {
    const due = Date.parse(f.dueBy);
    const offset = due - Date.parse(request.end);
    const remindAt = new Date(due - Math.min(lead, offset / 2)).toISOString();
    return workRequest(WORK.followUpSchedule, { followUpId: f.id, dueBy: f.dueBy, remindAt }, { patientId: course.patientId });
  });
  const alertTimers = await raiseAlerts(ctx, produced, { patientId: course.patientId, courseId });
  const saved = await saveForSync(ctx.tx, course.patientId, produced, {
    reason: 'dosing-session',
    webhookUrls: ctx.webhookUrls,
    courseId: course.id,
    hl7Out: ctx.tenant.hl7Out,
    alsoEnqueue: [...schedules, ...alertTimers],
    defer: ctx.defer,
  });
  return {
    status: 201,
    body: {
      sessionId,
      resources: collectionBundle(saved, ctx.baseUrl),
      followUps: followUps.map((f, i) => ({ id: f.id, dueBy: f.dueBy, status: f.status, taskId: tasks[i]?.id })),
    },
    written: { patientId: course.patientId, resources: saved },
  };
}
