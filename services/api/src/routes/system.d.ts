import { Router } from 'express';
import type { AppDeps } from '../deps';
/** Liveness, readiness (database, Redis, EHR), the OpenAPI document and the page that renders it. */
export declare function systemRoutes(deps: AppDeps): Router;
//# sourceMappingURL=system.d.ts.map