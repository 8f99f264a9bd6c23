import { Queue, type ConnectionOptions } from 'bullmq';
import { QUEUE_NAMES } from './names';

/** The three queues the worker consumes and the outbox relay feeds. */
export interface Queues {
  readonly ehrSync: Queue;
  readonly followUps: Queue;
  readonly notify: Queue;
  readonly inbound: Queue;
  close(): Promise<void>;
}

/** `prefix` namespaces the Redis keys (BullMQ's `prefix`), so tests and tenants never share queues. */
export function createQueues(connection: ConnectionOptions, prefix = 'kap'): Queues {
  const make = (name: string): Queue => new Queue(name, { connection, prefix });
  const ehrSync = make(QUEUE_NAMES.ehrSync);
  const followUps = make(QUEUE_NAMES.followUps);
  const notify = make(QUEUE_NAMES.notify);
  const inbound = make(QUEUE_NAMES.inbound);
  return {
    ehrSync,
    followUps,
    notify,
    inbound,
    async close() {
      await Promise.all([ehrSync.close(), followUps.close(), notify.close(), inbound.close()]);
    },
  };
}
