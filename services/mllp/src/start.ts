import { assigningAuthorities, dischargeStopCodes, type Config } from '@kap/config';
import type { Db } from '@kap/store';
import type { Logger } from 'pino';
import { startMllpListener, type RunningMllpListener } from './listener';

/** The listener as configured (MLLP_PORT, MLLP_HOST, …); undefined when MLLP_PORT is unset. */
export async function startConfiguredMllp(config: Config, db: Db, logger: Logger): Promise<RunningMllpListener | undefined> {
  if (config.MLLP_PORT === undefined) return undefined;
  return startMllpListener({
    port: config.MLLP_PORT,
    host: config.MLLP_HOST,
    db,
    logger,
    settings: { assigningAuthorities: assigningAuthorities(config), dischargeStopCodes: dischargeStopCodes(config) },
    maxMessageBytes: config.MLLP_MAX_MESSAGE_BYTES,
    idleTimeoutMs: config.MLLP_IDLE_TIMEOUT_MS,
  });
}
