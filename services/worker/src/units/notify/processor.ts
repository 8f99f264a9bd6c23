import { NotifyJobData } from '@kap/queue';
import { getOutboxMessageByKey, markCompleted, readResourceVersion } from '@kap/store';
import { UnrecoverableError, type Job } from 'bullmq';
import type { WorkerDeps } from '../../deps';
import { tenantWork } from '../../tenant-work';
import { SIGNATURE_HEADER, signWebhook } from '../../webhooks/signature';

const DELIVERY_TIMEOUT_MS = 10_000;

/**
 * Delivers one webhook of a tenant, signed with that tenant's secret: the changed resource (a CarePlan revision, a care-team
 * Communication) as it was stored at that version, signed with HMAC-SHA256. A 2xx
 * completes it; 408, 429 and 5xx are retried with backoff; another 4xx means the
 * subscriber refuses it, so it becomes a dead letter to re-drive once fixed.
 * `X-KAP-Delivery` lets a subscriber drop a delivery it already has (at-least-once).
 */
export function notifyProcessor(deps: WorkerDeps) {
  return async (job: Job): Promise<string> => {
    const { outboxKey, tenantId } = NotifyJobData.parse(job.data);
    const t = tenantWork(deps, tenantId);
    const row = await getOutboxMessageByKey(t.db, outboxKey);
    if (!row || row.completedAt) return 'obsolete';
    const { event, resource: ref, version, url } = row.payload as { event: string; resource: string; version: string; url: string };
    const [type, id] = ref.split('/') as [string, string];
    const resource = await readResourceVersion(t.db, type, id, version);
    if (!resource) throw new UnrecoverableError(`${ref}/_history/${version} is not stored`);
    const secret = t.config.WEBHOOK_SECRET;
    if (!secret) throw new UnrecoverableError(`WEBHOOK_SECRET is not set for tenant "${tenantId}"`);

    const body = JSON.stringify({ id: `kap-delivery-${row.key}`, event, occurredAt: row.createdAt, resource });
    const timestamp = Math.floor((deps.now ?? (() => new Date()))().getTime() / 1000);
    const response = await (deps.fetch ?? fetch)(url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': 'kap-fhir-adapter',
        'X-KAP-Event': event,
        'X-KAP-Delivery': `kap-delivery-${row.key}`,
        [SIGNATURE_HEADER]: signWebhook(secret, body, timestamp),
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    await response.body?.cancel();
    if (response.ok) {
      await markCompleted(t.db, row.key);
      return `delivered ${response.status}`;
    }
    const retryable = response.status === 408 || response.status === 429 || response.status >= 500;
    const message = `webhook ${new URL(url).host} answered ${response.status}`;
    if (!retryable) throw new UnrecoverableError(message);
    throw new Error(message);
  };
}
