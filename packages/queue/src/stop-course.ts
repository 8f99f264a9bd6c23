import type { StopReason } from '@kap/domain';
import { buildCareTeamCommunication, buildProvenance, cancelFollowUpTask, courseStopKey, provenanceKey, stopCarePlan } from '@kap/fhir';
import {
  cancelPendingFollowUps,
  getCourse,
  readResource,
  readResources,
  stopCourse,
  type CourseRow,
  type FollowUpRow,
  type TenantDb,
} from '@kap/store';
import type { CarePlan, Resource, Task } from '@medplum/fhirtypes';
import { enqueueWork } from './enqueue';
import { saveForSync } from './save-for-sync';
import { WORK } from './units';

export interface StopCourseInput {
  readonly reason: StopReason;
  /** ISO instant of the stop. */
  readonly at: string;
  readonly webhookUrls: readonly string[];
  /** Tell the care team in an urgent Communication (the hospital ended the course, not a clinician). */
  readonly tellCareTeam?: { readonly key: string; readonly text: string };
  /** Why, for the outbox row (never patient data). */
  readonly outboxReason?: string;
}

export interface StoppedCourse {
  readonly course: CourseRow;
  readonly cancelled: readonly FollowUpRow[];
  /** The CarePlan, cancelled Tasks, Communication and Provenance, as stored. */
  readonly saved: readonly Resource[];
}

/**
 * Stops a running course in the caller's transaction, the one way every caller does it
 * (`POST /v1/courses/{id}/stop`, a death or discharge from the hospital): the CarePlan
 * ends, each open follow-up is cancelled with its Task and its timer jobs, a Provenance
 * records it, and all of it is queued for the EHR and the webhooks. Returns undefined
 * when the course is unknown or already stopped, so two stops never both act.
 */
export async function stopCourseWithFollowUps(tx: TenantDb, courseId: string, input: StopCourseInput): Promise<StoppedCourse | undefined> {
  const course = await getCourse(tx, courseId);
  if (!course) return undefined;
  if (!(await stopCourse(tx, courseId, input.reason, input.at))) return undefined;
  const carePlan = await readResource<CarePlan>(tx, 'CarePlan', course.carePlanId);
  if (!carePlan) throw new Error(`CarePlan/${course.carePlanId} of course ${courseId} is missing`);
  const cancelled = await cancelPendingFollowUps(tx, courseId);
  const produced: Resource[] = [stopCarePlan(carePlan, input.reason, input.at)];
  const tasks = await readResources<Task>(
    tx,
    'Task',
    cancelled.flatMap((f) => (f.taskId ? [f.taskId] : [])),
  );
  for (const f of cancelled) {
    const task = f.taskId ? tasks.get(f.taskId) : undefined;
    if (task) produced.push(cancelFollowUpTask(task, input.at, `Course stopped: ${input.reason}`));
  }
  if (input.tellCareTeam) {
    produced.push(
      buildCareTeamCommunication({
        key: input.tellCareTeam.key,
        patient: { reference: `Patient/${course.patientId}` },
        about: [{ reference: `CarePlan/${course.carePlanId}` }],
        category: 'care-plan-update',
        text: input.tellCareTeam.text,
        sent: input.at,
        priority: 'urgent',
      }),
    );
  }
  produced.push(
    buildProvenance({
      key: provenanceKey(courseStopKey(courseId)),
      targets: produced.map((r) => ({ reference: `${r.resourceType}/${r.id}` })),
      recorded: input.at,
      activity: 'UPDATE',
      reason: `Course stopped: ${input.reason}`,
    }),
  );
  const saved = await saveForSync(tx, course.patientId, produced, {
    reason: input.outboxReason ?? 'course-stopped',
    webhookUrls: input.webhookUrls,
    courseId,
  });
  if (cancelled.length > 0) {
    await enqueueWork(tx, WORK.followUpCancel, { followUpIds: cancelled.map((f) => f.id) }, { patientId: course.patientId });
  }
  return { course: { ...course, stoppedReason: input.reason, stoppedAt: input.at }, cancelled, saved };
}
