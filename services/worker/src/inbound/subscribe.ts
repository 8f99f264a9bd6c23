import type { Config } from '@kap/config';
import type { EhrClient } from '@kap/ehr-client';
import {
  SUBSCRIPTION_SECRET_EXTENSION,
  backportSubscription,
  chooseSubscriptionStyle,
  classicSubscription,
  type SubscriptionStyle,
} from '@kap/inbound';
import type { CapabilityStatement, Subscription } from '@medplum/fhirtypes';

export interface EnsuredSubscription {
  readonly criteria: string;
  /** `created`, `exists` (left as it was), or `updated` (its header, secret or an `off`/`error` status put right). */
  readonly status: 'created' | 'exists' | 'updated';
  readonly location?: string;
}

/**
 * Creates each Subscription on the EHR unless one with the same criteria and endpoint is
 * there already, so running `npm run ehr:subscribe` twice makes one of each. A search and a
 * create, not a conditional create: many EHRs have no transactions or `If-None-Exist`, and a
 * string search on `criteria` is a prefix match there, so the criteria is compared here.
 * One found with another header or secret (a rotated token), or stopped, is updated in place.
 */
export async function ensureEhrSubscriptions(ehr: EhrClient, subscriptions: readonly Subscription[]): Promise<EnsuredSubscription[]> {
  const results: EnsuredSubscription[] = [];
  for (const wanted of subscriptions) {
    const criteria = wanted.criteria ?? '';
    const endpoint = wanted.channel?.endpoint ?? '';
    const found = (await ehr.searchAll('Subscription', { url: endpoint })).find(
      (s) => s.criteria === criteria && s.channel?.endpoint === endpoint && s.channel?.type === wanted.channel?.type,
    );
    if (!found?.id) {
      const made = await ehr.create(wanted);
      results.push({ criteria, status: 'created', ...(made.location ? { location: made.location } : {}) });
      continue;
    }
    const location = `Subscription/${found.id}`;
    const stopped = found.status === 'off' || found.status === 'error';
    if (!stopped && sameDelivery(found, wanted)) {
      results.push({ criteria, status: 'exists', location });
      continue;
    }
    const otherExtensions = (found.extension ?? []).filter((e) => e.url !== SUBSCRIPTION_SECRET_EXTENSION);
    const extension = [...otherExtensions, ...(wanted.extension ?? []).filter((e) => e.url === SUBSCRIPTION_SECRET_EXTENSION)];
    const { extension: _dropped, ...rest } = found;
    await ehr.update({
      ...rest,
      ...(extension.length > 0 ? { extension } : {}),
      status: stopped ? wanted.status ?? 'requested' : found.status,
      channel: { ...found.channel, ...wanted.channel },
    } as Subscription);
    results.push({ criteria, status: 'updated', location });
  }
  return results;
}

function sameDelivery(found: Subscription, wanted: Subscription): boolean {
  const secretOf = (s: Subscription): string | undefined => s.extension?.find((e) => e.url === SUBSCRIPTION_SECRET_EXTENSION)?.valueString;
  return JSON.stringify(found.channel?.header ?? []) === JSON.stringify(wanted.channel?.header ?? []) && secretOf(found) === secretOf(wanted);
}

export interface SubscribeOptions {
  /** This service's `POST /v1/ehr-notifications`, as the EHR reaches it. */
  readonly endpoint: string;
  /** A JWT for the EHR to present (`Authorization: Bearer …`), with `kap/v1.write`. */
  readonly token?: string;
}

export interface SubscribeOutcome {
  readonly style: SubscriptionStyle;
  /** Why that style: the setting, or what the CapabilityStatement says. */
  readonly reason: string;
  readonly subscriptions: readonly EnsuredSubscription[];
}

/**
 * What `npm run ehr:subscribe` does: picks the Subscription style for this EHR
 * (EHR_SUBSCRIPTION_STYLE, or its CapabilityStatement) and makes sure the Patient and
 * Encounter Subscriptions exist there, each with a rest-hook to `endpoint`.
 */
export async function subscribeToEhr(ehr: EhrClient, config: Config, options: SubscribeOptions): Promise<SubscribeOutcome> {
  let capability: CapabilityStatement | undefined;
  if (config.EHR_SUBSCRIPTION_STYLE === 'auto') capability = await ehr.capabilities();
  const { style, reason } = chooseSubscriptionStyle(config.EHR_SUBSCRIPTION_STYLE, capability);
  // The EHR presents this with every notification; the API checks it like any caller's token.
  const header = options.token ? `Authorization: Bearer ${options.token}` : undefined;
  const delivery = { endpoint: options.endpoint, ...(header ? { header } : {}) };
  const subscriptions =
    style === 'classic'
      ? (['Patient', 'Encounter'] as const).map((type) =>
          classicSubscription(type, { ...delivery, ...(config.EHR_SUBSCRIPTION_SECRET ? { secret: config.EHR_SUBSCRIPTION_SECRET } : {}) }),
        )
      : [
          backportSubscription({ resourceType: 'Patient', topic: config.EHR_SUBSCRIPTION_TOPIC_PATIENT }, { ...delivery, content: config.EHR_SUBSCRIPTION_CONTENT, heartbeatSeconds: 3600 }),
          backportSubscription(
            { resourceType: 'Encounter', topic: config.EHR_SUBSCRIPTION_TOPIC_ENCOUNTER, filter: 'Encounter?status=finished' },
            { ...delivery, content: config.EHR_SUBSCRIPTION_CONTENT, heartbeatSeconds: 3600 },
          ),
        ];
  return { style, reason, subscriptions: await ensureEhrSubscriptions(ehr, subscriptions) };
}
