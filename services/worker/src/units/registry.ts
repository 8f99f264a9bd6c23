import { QUEUE_NAMES, WORK, type QueueName, type WorkUnit } from '@kap/queue';
import type { Job } from 'bullmq';
import type { WorkerDeps } from '../deps';
import { courseNoteProcessor } from './course-note/processor';
import { ehrSyncProcessor } from './ehr-sync/processor';
import { followUpCancelProcessor, followUpScheduleProcessor } from './follow-ups/processor';
import { hl7OutProcessor } from './hl7-out/processor';
import { inboundMessageProcessor, patientDemographicsProcessor } from './inbound/processor';
import { notifyProcessor } from './notify/processor';
import { reconcileProcessor } from './reconcile/processor';
import { safetyAlertEscalationProcessor } from './safety-alert-escalation/processor';

/** What runs one job of a unit; `token` is BullMQ's, for moving the job back to the delayed set. */
export type UnitProcessor = (job: Job, token?: string) => Promise<unknown>;

/** A declared unit (@kap/queue) and what the worker does with its jobs. */
export interface UnitWorker {
  readonly unit: WorkUnit<unknown>;
  readonly processor: (deps: WorkerDeps) => UnitProcessor;
}

const worker = <P, N extends string>(unit: WorkUnit<P, N>, processor: (deps: WorkerDeps) => UnitProcessor): UnitWorker => ({
  unit: unit as unknown as WorkUnit<unknown>,
  processor,
});

/**
 * Every unit's processor, by its declaration. The runtime walks this list: one BullMQ worker
 * per queue, each job handed to its unit's processor by the job's name. A unit declared in
 * @kap/queue with no entry here fails `registry.test.ts`.
 */
export const UNIT_WORKERS: readonly UnitWorker[] = [
  worker(WORK.ehrSync, ehrSyncProcessor),
  worker(WORK.followUpSchedule, followUpScheduleProcessor),
  worker(WORK.followUpCancel, followUpCancelProcessor),
  worker(WORK.safetyAlertEscalation, safetyAlertEscalationProcessor),
  worker(WORK.notify, notifyProcessor),
  worker(WORK.reconcile, reconcileProcessor),
  worker(WORK.inboundMessage, inboundMessageProcessor),
  worker(WORK.patientDemographics, patientDemographicsProcessor),
  worker(WORK.courseNote, courseNoteProcessor),
  worker(WORK.hl7Out, hl7OutProcessor),
];

/** How many jobs of a queue one worker process runs at once. */
export function queueConcurrency(deps: WorkerDeps, queue: QueueName): number {
  switch (queue) {
    case QUEUE_NAMES.ehrSync:
      return deps.config.SYNC_CONCURRENCY;
    case QUEUE_NAMES.notify:
      return 4;
    case QUEUE_NAMES.followUps:
    case QUEUE_NAMES.inbound:
    case QUEUE_NAMES.hl7Out: // messages share one connection per engine, one in flight: more concurrency only queues on it
      return 2;
    case QUEUE_NAMES.reconcile:
    case QUEUE_NAMES.courseNotes:
      return 1;
  }
}

/** The queues that have units, each with the processors of its units by job name. */
export function processorsByQueue(
  deps: WorkerDeps,
  workers: readonly UnitWorker[] = UNIT_WORKERS,
): Map<QueueName, Map<string, UnitProcessor>> {
  const queues = new Map<QueueName, Map<string, UnitProcessor>>();
  for (const { unit, processor } of workers) {
    const byName = queues.get(unit.queue) ?? new Map<string, UnitProcessor>();
    const run = processor(deps);
    for (const name of unit.jobNames) byName.set(name, run);
    queues.set(unit.queue, byName);
  }
  return queues;
}
