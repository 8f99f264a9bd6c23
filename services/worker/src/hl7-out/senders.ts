import type { WorkerDeps } from '../deps';
import { MllpSender } from './mllp-sender';

// Kept per deps object, as the EHR clients are: two runtimes in one process (tests) never share a link.
const perDeps = new WeakMap<WorkerDeps, Map<string, MllpSender>>();

/** The one connection to a destination: every tenant naming the same engine shares it, so its messages keep their order. */
export function senderFor(deps: WorkerDeps, destination: { host: string; port: number }): MllpSender {
  let senders = perDeps.get(deps);
  if (!senders) {
    senders = new Map();
    perDeps.set(deps, senders);
  }
  const key = `${destination.host}:${destination.port}`;
  let sender = senders.get(key);
  if (!sender) {
    sender = new MllpSender(destination.host, destination.port);
    senders.set(key, sender);
  }
  return sender;
}

/** Closes this runtime's links (at shutdown, after its jobs stopped). */
export function closeSenders(deps: WorkerDeps): void {
  for (const sender of perDeps.get(deps)?.values() ?? []) sender.close();
  perDeps.delete(deps);
}
