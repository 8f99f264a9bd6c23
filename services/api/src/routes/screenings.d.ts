import { Router } from 'express';
import type { AppDeps } from '../deps';
export declare function screeningRoutes(deps: AppDeps): Router;
//# sourceMappingURL=screenings.d.ts.map