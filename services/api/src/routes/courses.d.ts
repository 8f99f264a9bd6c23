import { Router } from 'express';
import type { AppDeps } from '../deps';
export declare function courseRoutes(deps: AppDeps): Router;
//# sourceMappingURL=courses.d.ts.map