import { Queue, type ConnectionOptions } from 'bullmq';
import { QUEUE_NAMES, type QueueName } from './units';

/** The queues the worker consumes and the outbox relay feeds. */
export interface Queues {
  readonly ehrSync: Queue;
  readonly followUps: Queue;
  readonly notify: Queue;
  readonly reconcile: Queue;
  readonly inbound: Queue;
  readonly courseNotes: Queue;
  /** The queue of that name. */
  get(name: QueueName): Queue;
  readonly all: readonly Queue[];
  close(): Promise<void>;
}

/** `prefix` namespaces the Redis keys (BullMQ's `prefix`): see `queuePrefix`, which makes it the deployment's own. */
export function createQueues(connection: ConnectionOptions, prefix: string): Queues {
  const byName = new Map<QueueName, Queue>(Object.values(QUEUE_NAMES).map((name) => [name, new Queue(name, { connection, prefix })]));
  const get = (name: QueueName): Queue => byName.get(name) as Queue;
  return {
    ehrSync: get(QUEUE_NAMES.ehrSync),
    followUps: get(QUEUE_NAMES.followUps),
    notify: get(QUEUE_NAMES.notify),
    reconcile: get(QUEUE_NAMES.reconcile),
    inbound: get(QUEUE_NAMES.inbound),
    courseNotes: get(QUEUE_NAMES.courseNotes),
    get,
    all: [...byName.values()],
    async close() {
      await Promise.all([...byName.values()].map((q) => q.close()));
    },
  };
}
