import { hl7Tenants, startMllpListener, type RunningMllpListener } from '@kap/mllp';
import pino from 'pino';
import type { Stack } from './stack';

/**
 * The HL7 v2 listener on a free loopback port, on the stack's database and tenants (the
 * tenants file's, else the single default tenant), with the limits the tests assume: the
 * hospital's feed as the e2e and real-EHR tests reach it.
 */
export function startStackMllp(stack: Pick<Stack, 'db' | 'tenants'>): Promise<RunningMllpListener> {
  return startMllpListener({
    port: 0,
    host: '127.0.0.1',
    db: stack.db,
    tenants: hl7Tenants(stack.tenants),
    logger: pino({ level: 'silent' }),
    maxMessageBytes: 64 * 1024,
    idleTimeoutMs: 60_000,
  });
}
