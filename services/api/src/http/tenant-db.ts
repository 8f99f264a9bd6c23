import { forTenant, type TenantDb } from '@kap/store';
import type { Response } from 'express';
import type { AppDeps } from '../deps';
import { callerOf } from './caller';

/** The database as one tenant sees it. */
export function tenantDb(deps: AppDeps, tenantId: string): TenantDb {
  return forTenant(deps.db, tenantId);
}

/** The database as this request's tenant sees it: every route reaches patient data through this. */
export function requestDb(deps: AppDeps, res: Response): TenantDb {
  return tenantDb(deps, callerOf(res).tenantId);
}
