import { CourseNoteJobData, WORK } from '@kap/queue';
import { completeOutboxRows, getCourse, getOutboxMessageByKey, listOpenOutboxIds, markCompleted } from '@kap/store';
import type { Job } from 'bullmq';
import { noteTimeZone, rebuildCourseNote, type RebuildResult } from '../../course-note/rebuild';
import type { WorkerDeps } from '../../deps';
import { tenantWork } from '../../tenant-work';
import { withLease } from '../lease-and-rate';

/**
 * One `course-note` job: rebuilds the course's note (see `rebuildCourseNote`) under the
 * course's note lease, then completes its row and every other open row of the same course
 * that was committed before the rebuild read the course: the rebuild saw their changes.
 * A row committed later waits for a rebuild of its own.
 */
export function courseNoteProcessor(deps: WorkerDeps) {
  return async (job: Job, token?: string): Promise<RebuildResult | { outcome: 'done-by-another' }> => {
    const data = CourseNoteJobData.parse(job.data);
    const t = tenantWork(deps, data.tenantId);
    const doneByAnother = async (): Promise<boolean> => !!(await getOutboxMessageByKey(t.db, data.outboxKey))?.completedAt;
    if (await doneByAnother()) return { outcome: 'done-by-another' };
    return withLease(deps, t.db, job, token, `course-note/${data.courseId}`, async () => {
      // The lease's last holder completes the rows it covered before letting go: look again.
      if (await doneByAnother()) return { outcome: 'done-by-another' };
      const course = await getCourse(t.db, data.courseId);
      const covered = course
        ? await listOpenOutboxIds(t.db, WORK.courseNote.topic, course.patientId, { field: 'courseId', value: data.courseId })
        : [];
      const result = await rebuildCourseNote(t.db, data.courseId, {
        timeZone: noteTimeZone(t.config),
        webhookUrls: t.webhookUrls,
        hl7Out: t.hl7Out,
      });
      await markCompleted(t.db, data.outboxKey);
      const alsoCompleted = await completeOutboxRows(t.db, covered);
      deps.logger.info({ job: job.id, course: data.courseId, alsoCompleted, ...result }, 'course note rebuilt');
      return result;
    });
  };
}
