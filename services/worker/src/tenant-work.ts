import { hl7OutDestination, singleTenant, webhookUrls, type Config, type Tenant, type Tenants } from '@kap/config';
import type { EhrClient } from '@kap/ehr-client';
import { forTenant, type TenantDb } from '@kap/store';
import { UnrecoverableError } from 'bullmq';
import type { WorkerDeps } from './deps';
import { connectEhr } from './ehr-connection';

/** What one job may use: its tenant's configuration, database handle, EHR connection and webhooks. */
export interface TenantWork {
  readonly config: Config;
  /** The database as this tenant sees it: every read and write of the job's data goes through it, and it names the tenant (`tenantOf`). */
  readonly db: TenantDb;
  /** This tenant's EHR connection, with its own token and CapabilityStatement caches. */
  readonly ehr: EhrClient;
  readonly webhookUrls: readonly string[];
  /** Whether its results and notes also go to an interface engine as HL7 v2 (`saveForSync`'s `hl7Out`). */
  readonly hl7Out: boolean;
}

interface PerDeps {
  readonly tenants: Tenants;
  readonly clients: Map<string, EhrClient>;
}

// Kept per deps object: two runtimes in one process (tests) never share a client.
const perDeps = new WeakMap<WorkerDeps, PerDeps>();

function stateOf(deps: WorkerDeps): PerDeps {
  let state = perDeps.get(deps);
  if (!state) {
    state = { tenants: deps.tenants ?? singleTenant(deps.config), clients: new Map() };
    perDeps.set(deps, state);
  }
  return state;
}

/** The tenants this worker serves. */
export function tenantsOf(deps: WorkerDeps): Tenants {
  return stateOf(deps).tenants;
}

/**
 * A job's tenant as the job may use it. A tenant no longer configured here cannot be
 * worked for (no EHR, no webhooks): its job becomes a dead letter with the reason rather
 * than falling back on another tenant's connection.
 */
export function tenantWork(deps: WorkerDeps, tenantId: string): TenantWork {
  const state = stateOf(deps);
  const tenant = state.tenants.get(tenantId);
  if (!tenant) throw new UnrecoverableError(`tenant "${tenantId}" is not configured in this worker`);
  return {
    config: tenant.config,
    db: forTenant(deps.db, tenantId),
    ehr: ehrOf(deps, state, tenant),
    webhookUrls: webhookUrls(tenant.config),
    hl7Out: hl7OutDestination(tenant.config) !== undefined,
  };
}

function ehrOf(deps: WorkerDeps, state: PerDeps, tenant: Tenant): EhrClient {
  // Without a tenants registry the injected client is the one tenant's.
  if (!deps.tenants && deps.ehr) return deps.ehr;
  let client = state.clients.get(tenant.id);
  if (!client) {
    client = connectEhr(tenant.config, {
      ...(deps.ehrFetch ? { fetch: deps.ehrFetch } : {}),
      // Said at every token: the writes it cannot cover will be refused and dead-lettered.
      onShortfall: (lines, grant) =>
        deps.logger.warn(
          { tenantId: tenant.id, asked: grant.asked, granted: grant.granted, shortfall: lines },
          `the EHR token does not cover what the adapter sends: ${lines.join('; ')}`,
        ),
    });
    state.clients.set(tenant.id, client);
  }
  return client;
}
