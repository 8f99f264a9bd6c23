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
      status: stopped ? (wanted.status ?? 'requested') : found.status,
      channel: { ...found.channel, ...wanted.channel },
    } as Subscription);
    results.push({ criteria, status: 'updated', location });
  }
  return results;
}

function sameDelivery(found: Subscription, wanted: Subscription): boolean {
  const secretOf = (s: Subscription): string | undefined => s.extension?.find((e) => e.url === SUBSCRIPTION_SECRET_EXTENSION)?.valueString;
  return (
    JSON.stringify(found.channel?.header ?? []) === JSON.stringify(wanted.channel?.header ?? []) && secretOf(found) === secretOf(wanted)
  );
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
          backportSubscription(
            { resourceType: 'Patient', topic: config.EHR_SUBSCRIPTION_TOPIC_PATIENT },
            { ...delivery, content: config.EHR_SUBSCRIPTION_CONTENT, heartbeatSeconds: 3600 },
          ),
          backportSubscription(
            { resourceType: 'Encounter', topic: config.EHR_SUBSCRIPTION_TOPIC_ENCOUNTER, filter: 'Encounter?status=finished' },
            { ...delivery, content: config.EHR_SUBSCRIPTION_CONTENT, heartbeatSeconds: 3600 },
          ),
        ];
  return { style, reason, subscriptions: await ensureEhrSubscriptions(ehr, subscriptions) };
}

/**
 * When an unverified JWT says it expires (its `exp`, epoch ms), or `undefined` when the
 * header carries no bearer JWT with one. Read without verifying: it is our own token as the
 * EHR holds it, and only decides when to renew.
 */
export function bearerExpiryMs(header: string | undefined): number | undefined {
  const token = /^Authorization:\s*Bearer\s+(\S+)$/i.exec(header ?? '')?.[1];
  const payload = token?.split('.')[1];
  if (!payload) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export interface RenewOptions {
  /** This service's `POST /v1/ehr-notifications`, as the EHR reaches it. */
  readonly endpoint: string;
  /** Renew when the token on the Subscriptions has less than this long left, ms. */
  readonly renewWithinMs: number;
  /** A new token from the issuer. */
  readonly issueToken: () => Promise<string>;
  readonly now?: () => number;
}

export interface RenewOutcome {
  /** `renewed`, `current` (nothing to do yet), or `none` (no Subscriptions of ours on this EHR). */
  readonly status: 'renewed' | 'current' | 'none';
  /** When the token the Subscriptions carry (after a renewal, the new one) expires; absent if it names none. */
  readonly expiresAt?: string;
  readonly subscriptions: readonly EnsuredSubscription[];
}

/**
 * Renews the token the EHR presents with its notifications before it expires. The
 * Subscriptions of ours on this EHR (those posting to `endpoint`) are read; when the token in
 * their header has less than `renewWithinMs` left (or none), a new one is asked of the
 * issuer and put in their `channel.header` in place. The API verifies each notification's
 * token by its signature and `exp` alone, so the old token stays accepted until it expires:
 * a notification the EHR sends with it during the rotation is not refused. Creates nothing:
 * without Subscriptions (no `ehr:subscribe` yet) there is nothing to renew.
 */
export async function renewSubscriptionToken(ehr: EhrClient, config: Config, options: RenewOptions): Promise<RenewOutcome> {
  const now = (options.now ?? Date.now)();
  const ours = await ehr.searchAll('Subscription', { url: options.endpoint });
  const mine = ours.filter((s) => s.channel?.endpoint === options.endpoint);
  if (mine.length === 0) return { status: 'none', subscriptions: [] };
  const expiries = mine.map((s) => bearerExpiryMs(s.channel?.header?.find((h) => /^Authorization:/i.test(h))));
  const soonest = expiries.some((e) => e === undefined) ? undefined : Math.min(...(expiries as number[]));
  if (soonest !== undefined && soonest - now > options.renewWithinMs) {
    return {
      status: 'current',
      expiresAt: new Date(soonest).toISOString(),
      subscriptions: mine.map((s) => ({ criteria: s.criteria ?? '', status: 'exists', location: `Subscription/${s.id}` })),
    };
  }
  const token = await options.issueToken();
  const outcome = await subscribeToEhr(ehr, config, { endpoint: options.endpoint, token });
  const expires = bearerExpiryMs(`Authorization: Bearer ${token}`);
  return {
    status: 'renewed',
    ...(expires !== undefined ? { expiresAt: new Date(expires).toISOString() } : {}),
    subscriptions: outcome.subscriptions,
  };
}
