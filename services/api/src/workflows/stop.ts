import type { StopRequest } from '@kap/contracts';
import { collectionBundle, conflict } from '@kap/fhir';
import { stopCourseWithFollowUps } from '@kap/queue';
import type { CommandContext, CommandResult } from '../http/command';
import { loadCourse } from './course-state';

/**
 * Stops a course (completed, withdrawn, deceased, discharged): every open follow-up is
 * cancelled with its Task and its jobs, and the CarePlan ends. The stop itself is shared
 * with the stops the hospital's events cause (`stopCourseWithFollowUps`).
 */
export async function stopCourseWorkflow(courseId: string, request: StopRequest, ctx: CommandContext): Promise<CommandResult> {
  const { course } = await loadCourse(ctx.tx, courseId);
  const stopped = await stopCourseWithFollowUps(ctx.tx, courseId, {
    reason: request.reason,
    at: ctx.now.toISOString(),
    webhookUrls: ctx.webhookUrls,
  });
  if (!stopped) throw conflict(`Course ${courseId} was already stopped (${course.stoppedReason ?? 'unknown'})`);
  return {
    status: 200,
    body: {
      courseId,
      status: 'stopped',
      reason: request.reason,
      cancelledFollowUps: stopped.cancelled.map((f) => ({ id: f.id, dueBy: f.dueBy, status: f.status })),
      resources: collectionBundle([...stopped.saved], ctx.baseUrl),
    },
    written: { patientId: course.patientId, resources: stopped.saved },
  };
}
