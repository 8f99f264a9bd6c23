import { publicBaseUrl, type Tenant } from '@kap/config';
import { parseDurationMs } from '@kap/domain';
import { createTokenProvider, type EhrClient } from '@kap/ehr-client';
import type { WorkerDeps } from '../deps';
import { connectEhr } from '../ehr-connection';
import { tenantsOf } from '../tenant-work';
import { renewSubscriptionToken, type RenewOutcome } from './subscribe';

/** The scope of the token the EHR presents: it posts to `/v1/ehr-notifications`, a write. */
export const NOTIFICATION_TOKEN_SCOPE = 'kap/v1.write';

/** Tenants whose notification token the worker renews: those that name the issuer's token endpoint. */
export function renewingTenants(deps: WorkerDeps): Tenant[] {
  return tenantsOf(deps)
    .all()
    .filter((t) => t.config.EHR_SUBSCRIPTION_TOKEN_URL);
}

/** A fresh token from the tenant's issuer for its EHR's notifications (client credentials; never cached). */
export function notificationTokenIssuer(tenant: Tenant, fetchImpl?: typeof fetch): () => Promise<string> {
  const c = tenant.config;
  return async () => {
    const provider = createTokenProvider(
      {
        mode: 'client-credentials',
        tokenUrl: c.EHR_SUBSCRIPTION_TOKEN_URL as string,
        clientId: c.EHR_SUBSCRIPTION_CLIENT_ID as string,
        clientSecret: c.EHR_SUBSCRIPTION_CLIENT_SECRET as string,
        scope: NOTIFICATION_TOKEN_SCOPE,
      },
      { ...(fetchImpl ? { fetch: fetchImpl } : {}), userAgent: 'kap-subscription-renewal' },
    );
    const token = await provider.getToken();
    if (!token) throw new Error('the token endpoint issued no token');
    return token;
  };
}

// A client that may write Subscriptions, per tenant and deps: the sync's own clients are not granted it.
const clients = new WeakMap<WorkerDeps, Map<string, EhrClient>>();

function subscriptionClient(deps: WorkerDeps, tenant: Tenant): EhrClient {
  let byTenant = clients.get(deps);
  if (!byTenant) clients.set(deps, (byTenant = new Map()));
  let ehr = byTenant.get(tenant.id);
  if (!ehr) {
    ehr = connectEhr(tenant.config, {
      manages: ['Subscription'],
      userAgent: 'kap-subscription-renewal',
      ...(deps.ehrFetch ? { fetch: deps.ehrFetch } : {}),
    });
    byTenant.set(tenant.id, ehr);
  }
  return ehr;
}

/**
 * One pass: for each tenant with an issuer token endpoint, renews the token on its EHR's
 * Subscriptions when it is within EHR_SUBSCRIPTION_RENEW_WITHIN of expiry. A tenant whose
 * renewal fails is logged and tried again next pass (its old token is still valid until it
 * expires); the others go on.
 */
export async function renewSubscriptionTokensOnce(deps: WorkerDeps): Promise<Map<string, RenewOutcome | Error>> {
  const results = new Map<string, RenewOutcome | Error>();
  for (const tenant of renewingTenants(deps)) {
    try {
      const outcome = await renewSubscriptionToken(subscriptionClient(deps, tenant), tenant.config, {
        endpoint: `${publicBaseUrl(tenant.config)}/v1/ehr-notifications`,
        renewWithinMs: parseDurationMs(tenant.config.EHR_SUBSCRIPTION_RENEW_WITHIN),
        issueToken: notificationTokenIssuer(tenant, deps.ehrFetch),
        ...(deps.now ? { now: () => (deps.now as () => Date)().getTime() } : {}),
      });
      results.set(tenant.id, outcome);
      if (outcome.status === 'renewed')
        deps.logger.info(
          { tenantId: tenant.id, expiresAt: outcome.expiresAt, subscriptions: outcome.subscriptions.length },
          'EHR notification token renewed on its Subscriptions',
        );
      if (outcome.status === 'none')
        deps.logger.warn(
          { tenantId: tenant.id },
          'no Subscriptions of ours on the EHR to renew the notification token of: run npm run ehr:subscribe',
        );
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      results.set(tenant.id, error);
      deps.logger.warn({ tenantId: tenant.id, err: error.message }, 'EHR notification token renewal failed; will retry');
    }
  }
  return results;
}

/** Renews every EHR_SUBSCRIPTION_RENEW_CHECK_MS (and once at start) until stopped; nothing runs without a tenant that renews. */
export function startSubscriptionRenewal(deps: WorkerDeps): { stop(): Promise<void> } {
  if (renewingTenants(deps).length === 0) return { stop: async () => undefined };
  let running: Promise<unknown> = renewSubscriptionTokensOnce(deps);
  const timer = setInterval(() => {
    running = running.then(() => renewSubscriptionTokensOnce(deps));
  }, deps.config.EHR_SUBSCRIPTION_RENEW_CHECK_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
