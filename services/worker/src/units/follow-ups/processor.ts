import { buildCareTeamCommunication, escalateFollowUpTask, followUpNotificationKey, resourceId } from '@kap/fhir';
import { FollowUpCancelJobData, FollowUpJobData, WORK, saveForSync } from '@kap/queue';
import {
  completeOutboxMatching,
  getCourse,
  getFollowUp,
  markCompleted,
  readResource,
  setFollowUpStatus,
  tenantOf,
  type FollowUpRow,
} from '@kap/store';
import type { Communication, Resource, Task } from '@medplum/fhirtypes';
import type { Job } from 'bullmq';
import type { WorkerDeps } from '../../deps';
import { removeJobs } from '../../relay';
import { tenantWork, type TenantWork } from '../../tenant-work';

/**
 * A follow-up's timers. The reminder tells the care team one is coming due; at the due
 * time, one still open is escalated (Task priority raised, the team told). Both re-read
 * the follow-up and do nothing once it is completed or cancelled, and each notification
 * has a deterministic id, so a job that runs twice notifies once.
 */
export function followUpScheduleProcessor(deps: WorkerDeps) {
  return async (job: Job): Promise<string> => {
    const { followUpId, kind, outboxKey, tenantId } = FollowUpJobData.parse(job.data);
    const t = tenantWork(deps, tenantId);
    const followUp = await getFollowUp(t.db, followUpId);
    const result = !followUp
      ? 'obsolete: unknown follow-up'
      : kind === 'reminder'
        ? await remind(deps, t, followUp)
        : await escalate(deps, t, followUp);
    // The due-time job is the schedule's last word: its row is done whatever the follow-up's state.
    if (kind === 'due') await markCompleted(t.db, outboxKey);
    return result;
  };
}

/** One `follow-up-cancel` job: see `cancelTimers`. */
export function followUpCancelProcessor(deps: WorkerDeps) {
  return async (job: Job): Promise<string> => {
    const data = FollowUpCancelJobData.parse(job.data);
    return cancelTimers(deps, tenantWork(deps, data.tenantId), data);
  };
}

/**
 * Removes the timers of follow-ups that were completed or cancelled, by the job ids their
 * schedule rows recorded, and closes those rows so the relay never dispatches them again.
 * A timer running meanwhile cannot be removed; it re-reads the follow-up and stops.
 */
async function cancelTimers(deps: WorkerDeps, t: TenantWork, data: FollowUpCancelJobData): Promise<string> {
  const rows = await completeOutboxMatching(t.db, WORK.followUpSchedule.topic, 'followUpId', data.followUpIds);
  await removeJobs(
    deps.queues.followUps,
    rows.flatMap((row) => row.jobIds),
  );
  await markCompleted(t.db, data.outboxKey);
  return `cancelled the timers of ${rows.length} follow-up(s)`;
}

async function remind(deps: WorkerDeps, t: TenantWork, followUp: FollowUpRow): Promise<string> {
  if (followUp.status !== 'scheduled') return `obsolete: ${followUp.status}`;
  // Entered after its due time (a late record, or timers restored after an outage): the escalation says it all.
  if (Date.parse(followUp.dueBy) <= Date.parse(now(deps))) return 'obsolete: already due';
  const key = followUpNotificationKey(followUp.id, 'reminder');
  return t.db.transaction(async (tx) => {
    if (await readResource(tx, 'Communication', resourceId(key))) return 'already reminded';
    const course = await getCourse(tx, followUp.courseId);
    if (!course || course.stoppedReason) return 'obsolete: course stopped';
    const communication = buildCareTeamCommunication({
      key,
      patient: { reference: `Patient/${course.patientId}` },
      about: followUp.taskId ? [{ reference: `Task/${followUp.taskId}` }] : [{ reference: `CarePlan/${course.carePlanId}` }],
      category: 'follow-up-reminder',
      text: `Integration follow-up ${followUp.sequence} after dosing session ${followUp.sessionNumber} is due by ${followUp.dueBy}.`,
      sent: now(deps),
      priority: 'routine',
    });
    await saveForSync(tx, course.patientId, [communication], { reason: 'follow-up-reminder', webhookUrls: t.webhookUrls });
    return 'reminded';
  });
}

async function escalate(deps: WorkerDeps, t: TenantWork, followUp: FollowUpRow): Promise<string> {
  if (followUp.status !== 'scheduled') return `obsolete: ${followUp.status}`;
  return t.db.transaction(async (tx) => {
    const at = now(deps);
    const escalated = await setFollowUpStatus(tx, followUp.id, 'escalated', at, { onlyFrom: ['scheduled'] });
    if (!escalated) return 'obsolete: changed meanwhile';
    const course = await getCourse(tx, followUp.courseId);
    if (!course) return 'obsolete: unknown course';
    const changed: Resource[] = [];
    const task = followUp.taskId ? await readResource<Task>(tx, 'Task', followUp.taskId) : undefined;
    if (task) changed.push(escalateFollowUpTask(task, at));
    const communication: Communication = buildCareTeamCommunication({
      key: followUpNotificationKey(followUp.id, 'escalation'),
      patient: { reference: `Patient/${course.patientId}` },
      about: task ? [{ reference: `Task/${task.id}` }] : [{ reference: `CarePlan/${course.carePlanId}` }],
      category: 'follow-up-escalation',
      text: `Integration follow-up ${followUp.sequence} after dosing session ${followUp.sessionNumber} was not completed by ${followUp.dueBy}: the window has closed.`,
      sent: at,
      priority: 'urgent',
    });
    changed.push(communication);
    await saveForSync(tx, course.patientId, changed, { reason: 'follow-up-escalation', webhookUrls: t.webhookUrls, courseId: course.id });
    deps.logger.warn({ tenant: tenantOf(t.db), followUp: followUp.id, course: course.id }, 'follow-up escalated');
    return 'escalated';
  });
}

const now = (deps: WorkerDeps): string => (deps.now ?? (() => new Date()))().toISOString();
