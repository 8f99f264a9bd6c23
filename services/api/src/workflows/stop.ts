import type { StopRequest } from '@kap/contracts';
import { buildProvenance, cancelFollowUpTask, collectionBundle, conflict, courseStopKey, provenanceKey, stopCarePlan } from '@kap/fhir';
import { WORK, enqueueWork, saveForSync } from '@kap/queue';
import { cancelPendingFollowUps, readResource, stopCourse } from '@kap/store';
import type { Resource, Task } from '@medplum/fhirtypes';
import type { CommandContext } from '../http/command';
import type { HandlerResult } from '../http/respond';
import { loadCourse } from './course-state';

/**
 * Stops a course (completed, withdrawn, deceased, discharged): every open follow-up is
 * cancelled with its Task and its jobs, and the CarePlan ends.
 */
export async function stopCourseWorkflow(courseId: string, request: StopRequest, ctx: CommandContext): Promise<HandlerResult> {
  const { course, carePlan } = await loadCourse(ctx.tx, courseId);
  const at = ctx.now.toISOString();
  if (!(await stopCourse(ctx.tx, courseId, request.reason, at))) {
    throw conflict(`Course ${courseId} was already stopped (${course.stoppedReason ?? 'unknown'})`);
  }
  const cancelled = await cancelPendingFollowUps(ctx.tx, courseId);
  const produced: Resource[] = [stopCarePlan(carePlan, request.reason, at)];
  for (const f of cancelled) {
    const task = f.taskId ? await readResource<Task>(ctx.tx, 'Task', f.taskId) : undefined;
    if (task) produced.push(cancelFollowUpTask(task, at, `Course stopped: ${request.reason}`));
  }
  produced.push(
    buildProvenance({
      key: provenanceKey(courseStopKey(courseId)),
      targets: produced.map((r) => ({ reference: `${r.resourceType}/${r.id}` })),
      recorded: at,
      activity: 'UPDATE',
      reason: `Course stopped: ${request.reason}`,
    }),
  );
  const saved = await saveForSync(ctx.tx, course.patientId, produced, { reason: 'course-stopped', webhookUrls: ctx.webhookUrls });
  if (cancelled.length > 0) {
    await enqueueWork(ctx.tx, WORK.followUpCancel, { followUpIds: cancelled.map((f) => f.id) }, { patientId: course.patientId });
  }
  return {
    status: 200,
    body: {
      courseId,
      status: 'stopped',
      reason: request.reason,
      cancelledFollowUps: cancelled.map((f) => ({ id: f.id, dueBy: f.dueBy, status: f.status })),
      resources: collectionBundle(saved, ctx.baseUrl),
    },
  };
}
