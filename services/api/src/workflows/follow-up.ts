import type { FollowUpCompleteRequest } from '@kap/contracts';
import { checkCourseActive } from '@kap/domain';
import {
  badRequest,
  buildIntegrationProcedure,
  buildProvenance,
  collectionBundle,
  completeFollowUpTask,
  conflict,
  followUpCompletionKey,
  notFound,
  provenanceKey,
} from '@kap/fhir';
import { WORK, saveForSync, workRequest } from '@kap/queue';
import { getFollowUp, listDosingSessions, readResource, setFollowUpStatus } from '@kap/store';
import type { Resource, Task } from '@medplum/fhirtypes';
import type { CommandContext, CommandResult } from '../http/command';
import { loadCourse } from './course-state';

/**
 * Completes an integration follow-up, on time or late (after escalation): the therapy is
 * recorded as a Procedure, its Task closes, and its reminder and due-time jobs are removed.
 */
export async function completeFollowUp(followUpId: string, request: FollowUpCompleteRequest, ctx: CommandContext): Promise<CommandResult> {
  const followUp = await getFollowUp(ctx.tx, followUpId);
  if (!followUp) throw notFound(`Follow-up ${followUpId}`);
  const { course, facts, carePlan } = await loadCourse(ctx.tx, followUp.courseId);
  const stopped = checkCourseActive(facts);
  if (stopped) throw conflict(stopped.text);
  const session = (await listDosingSessions(ctx.tx, course.id)).find((s) => s.sessionNumber === followUp.sessionNumber);
  if (session && Date.parse(request.completedAt) < Date.parse(session.end)) {
    throw badRequest(`completedAt is before dosing session ${session.sessionNumber} ended (${session.end})`, 'completedAt');
  }
  const done = await setFollowUpStatus(ctx.tx, followUpId, 'completed', request.completedAt, {
    note: request.note,
    onlyFrom: ['scheduled', 'escalated'],
  });
  if (!done) throw conflict(`Follow-up ${followUpId} is ${followUp.status}; only a scheduled or escalated one can be completed`);

  const task = followUp.taskId ? await readResource<Task>(ctx.tx, 'Task', followUp.taskId) : undefined;
  if (!task) throw new Error(`Task of follow-up ${followUpId} is missing`);
  const procedure = buildIntegrationProcedure({
    followUpId,
    patient: { reference: `Patient/${course.patientId}` },
    task: { reference: `Task/${task.id}` },
    carePlan: { reference: `CarePlan/${carePlan.id}` },
    completedAt: request.completedAt,
    note: request.note,
  });
  const produced: Resource[] = [
    procedure,
    completeFollowUpTask(task, request.completedAt, { reference: `Procedure/${procedure.id}` }, ctx.now.toISOString()),
  ];
  produced.push(
    buildProvenance({
      key: provenanceKey(followUpCompletionKey(followUpId)),
      targets: produced.map((r) => ({ reference: `${r.resourceType}/${r.id}` })),
      recorded: ctx.now.toISOString(),
      activity: 'UPDATE',
      reason: 'Integration follow-up completed',
    }),
  );
  const saved = await saveForSync(ctx.tx, course.patientId, produced, {
    reason: 'follow-up-completed',
    webhookUrls: ctx.webhookUrls,
    courseId: course.id,
    alsoEnqueue: [workRequest(WORK.followUpCancel, { followUpIds: [followUpId] }, { patientId: course.patientId })],
  });
  return {
    status: 200,
    body: {
      followUp: { id: done.id, dueBy: done.dueBy, status: done.status, completedAt: done.completedAt },
      resources: collectionBundle(saved, ctx.baseUrl),
    },
    written: { patientId: course.patientId, resources: saved },
  };
}
