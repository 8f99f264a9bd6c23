import { createHmac } from 'node:crypto';
import { matchesSearchRequest, parseSearchRequest } from '@medplum/core';
import type { Resource, Subscription } from '@medplum/fhirtypes';
import { prepareSearch } from '../store/search';

/** Medplum's extension naming the secret a rest-hook body is signed with (`X-Signature`). */
const SECRET_EXTENSION = 'https://www.medplum.com/fhir/StructureDefinition/subscription-secret';
const ATTEMPTS = 3;

/** Where a sandbox may post: only this machine, so a stand-in never sends patient-shaped data anywhere else. */
function isLoopback(endpoint: string): boolean {
  try {
    const host = new URL(endpoint).hostname;
    return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
  } catch {
    return false;
  }
}

/**
 * Classic R4 rest-hook Subscriptions, as Medplum and most servers run them
 * (http://hl7.org/fhir/R4/subscription.html): for every committed version that matches an
 * `active` rest-hook Subscription's search criteria, a POST to its endpoint with the
 * resource as the body (`payload` set) or an empty body (a ping), every `channel.header`,
 * and `X-Signature` (hex HMAC-SHA256 of the body) when the Subscription carries Medplum's
 * secret extension. Topic-based (backport) Subscriptions are not fired. Retried a few
 * times on failure, then dropped, as a server would mark the Subscription in error.
 */
export function restHookDispatcher(activeSubscriptions: () => readonly Subscription[]): (resources: readonly Resource[]) => void {
  return (resources) => {
    const subscriptions = activeSubscriptions().filter(
      (s) =>
        s.status === 'active' &&
        s.channel?.type === 'rest-hook' &&
        s.channel.endpoint &&
        isLoopback(s.channel.endpoint) &&
        /^[A-Z][A-Za-z]+(\?|$)/.test(s.criteria ?? ''),
    );
    for (const resource of resources) {
      if (resource.resourceType === 'Subscription') continue;
      for (const subscription of subscriptions) {
        if (!matches(resource, subscription.criteria as string)) continue;
        void deliver(subscription, resource);
      }
    }
  };
}

function matches(resource: Resource, criteria: string): boolean {
  try {
    const search = parseSearchRequest(criteria);
    return search.resourceType === resource.resourceType && matchesSearchRequest(resource, prepareSearch(search));
  } catch {
    return false; // a criteria this server cannot evaluate fires nothing
  }
}

async function deliver(subscription: Subscription, resource: Resource): Promise<void> {
  const body = subscription.channel.payload ? JSON.stringify(resource) : '';
  const headers: Record<string, string> = body ? { 'Content-Type': subscription.channel.payload as string } : {};
  for (const header of subscription.channel.header ?? []) {
    const colon = header.indexOf(':');
    if (colon > 0) headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
  }
  const secret = subscription.extension?.find((e) => e.url === SECRET_EXTENSION)?.valueString;
  if (secret) headers['X-Signature'] = createHmac('sha256', secret).update(body).digest('hex');
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      const res = await fetch(subscription.channel.endpoint as string, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(10_000),
      });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // retried below
    }
    await new Promise((resolve) => setTimeout(resolve, 250 * 4 ** (attempt - 1)).unref());
  }
}
