import { z } from 'zod';

/** Request body of `POST /__admin/faults`. */
export const faultSpecSchema = z
  .strictObject({
    status: z.union([z.literal(500), z.literal(503), z.literal(429), z.literal(412), z.literal(409)]).optional(),
    count: z.number().int().positive().optional(),
    durationMs: z.number().int().positive().optional(),
    retryAfter: z.number().int().nonnegative().optional(),
    delayMs: z.number().int().positive().optional(),
    match: z.enum(['transaction', 'batch', 'all']).optional(),
  })
  .refine((f) => f.status !== undefined || f.delayMs !== undefined, {
    message: 'Give a status, a delayMs, or both',
  });

/**
 * A fault to inject. Without `count` or `durationMs` it applies once. Without `status` the
 * request is only delayed, then served normally (for client timeout tests).
 */
export type FaultSpec = z.infer<typeof faultSpecSchema>;

/** What the HTTP layer must do to one request. */
export interface FaultAction {
  readonly status?: number;
  readonly retryAfter?: number;
  readonly delayMs?: number;
}

/** The kind of FHIR request a fault may be limited to. */
export type RequestKind = 'transaction' | 'batch' | 'other';

interface ArmedFault {
  readonly spec: FaultSpec;
  remaining: number;
  readonly until: number;
}

/**
 * Faults armed by tests, consumed in arming order. A faulted request never reaches the
 * repository, so it changes nothing, which is what a client retry test needs to rely on.
 */
export class FaultInjector {
  private faults: ArmedFault[] = [];
  /** Faults applied so far: a test awaits a delayed request being in flight by this. */
  taken = 0;

  constructor(private readonly now: () => number) {}

  arm(spec: FaultSpec): void {
    this.faults.push({
      spec,
      remaining: spec.count ?? (spec.durationMs === undefined ? 1 : Number.POSITIVE_INFINITY),
      until: spec.durationMs === undefined ? Number.POSITIVE_INFINITY : this.now() + spec.durationMs,
    });
  }

  clear(): void {
    this.faults = [];
  }

  /** Consumes the first armed fault matching a request of this kind. */
  take(kind: RequestKind): FaultAction | undefined {
    const now = this.now();
    this.faults = this.faults.filter((f) => f.remaining > 0 && f.until > now);
    const fault = this.faults.find((f) => (f.spec.match ?? 'all') === 'all' || f.spec.match === kind);
    if (!fault) {
      return undefined;
    }
    fault.remaining--;
    this.taken++;
    const { status, retryAfter, delayMs } = fault.spec;
    return { status, retryAfter, delayMs };
  }
}
