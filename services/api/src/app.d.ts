import { type Express } from 'express';
import type { AppDeps } from './deps';
/** The HTTP app, without `listen`: main.ts serves it, tests drive it with supertest. */
export declare function createApp(deps: AppDeps): Express;
//# sourceMappingURL=app.d.ts.map