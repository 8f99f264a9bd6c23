import type { Response } from 'express';
import { DEFAULT_TENANT_ID } from '@kap/config';

/**
 * Who is calling, as authentication established it: the tenant whose data the request may
 * touch, the client to name in AuditEvents, and the scopes the token grants.
 */
export interface Caller {
  readonly tenantId: string;
  /** The token's `client_id`, else its `sub`; `anonymous` when authentication is off. */
  readonly clientId: string;
  /** The token's `sub`, when it has one. */
  readonly subject?: string;
  /** Granted scopes; `*` grants every scope (authentication off). */
  readonly scopes: ReadonlySet<string>;
}

const ANONYMOUS: Caller = { tenantId: DEFAULT_TENANT_ID, clientId: 'anonymous', scopes: new Set(['*']) };

/** The caller that authentication recorded for this request; the anonymous default-tenant caller when it recorded none. */
export function callerOf(res: Response): Caller {
  return (res.locals as { caller?: Caller }).caller ?? ANONYMOUS;
}

export function setCaller(res: Response, caller: Caller): void {
  (res.locals as { caller?: Caller }).caller = caller;
}
