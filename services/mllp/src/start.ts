import {
  assigningAuthorities,
  dischargeStopCodes,
  sendingFacilities,
  singleTenant,
  ConfigError,
  type Config,
  type Tenants,
} from '@kap/config';
import { hl7RoutingProblems, type Hl7Tenant } from '@kap/inbound';
import type { DeploymentDb } from '@kap/store';
import type { Logger } from 'pino';
import { startMllpListener, type RunningMllpListener } from './listener';

/**
 * The tenants as the listener routes to them, each reading its messages with its own
 * assigning authorities and discharge codes. Two tenants claiming one sending facility
 * stop start-up: neither could be sure of its messages.
 */
export function hl7Tenants(tenants: Tenants): Hl7Tenant[] {
  const routed = tenants.all().map((t) => ({
    id: t.id,
    settings: { assigningAuthorities: assigningAuthorities(t.config), dischargeStopCodes: dischargeStopCodes(t.config) },
    sendingFacilities: sendingFacilities(t.config),
  }));
  const problems = hl7RoutingProblems(routed);
  if (problems.length > 0) throw new ConfigError(`Invalid HL7 routing:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  return routed;
}

/** The listener as configured (MLLP_PORT, MLLP_HOST, …); undefined when MLLP_PORT is unset. */
export async function startConfiguredMllp(
  config: Config,
  db: DeploymentDb,
  logger: Logger,
  tenants: Tenants = singleTenant(config),
): Promise<RunningMllpListener | undefined> {
  if (config.MLLP_PORT === undefined) return undefined;
  return startMllpListener({
    port: config.MLLP_PORT,
    host: config.MLLP_HOST,
    db,
    logger,
    tenants: hl7Tenants(tenants),
    maxMessageBytes: config.MLLP_MAX_MESSAGE_BYTES,
    idleTimeoutMs: config.MLLP_IDLE_TIMEOUT_MS,
  });
}
