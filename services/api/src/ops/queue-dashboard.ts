import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queues } from '@kap/queue';
import type { Router } from 'express';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/**
 * bull-board for operators: each queue's jobs by state, with retry and clean. Payloads are
 * ids only, so it shows no patient data. Protect it like the rest of /admin at the ingress.
 */
export function queueDashboard(queues: Queues): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({
    queues: [queues.ehrSync, queues.followUps, queues.notify].map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'KAP adapter queues' } },
  });
  return serverAdapter.getRouter() as Router;
}
