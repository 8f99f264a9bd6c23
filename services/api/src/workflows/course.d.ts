import type { CourseRequest } from '@kap/contracts';
import { type Db } from '@kap/store';
import type { CommandContext } from '../http/command';
import type { HandlerResult } from '../http/respond';
/** Starts a course from an eligible or approved screening: the PlanDefinition applied to the patient gives the CarePlan. */
export declare function startCourse(request: CourseRequest, ctx: CommandContext): Promise<HandlerResult>;
/** The course as api.md describes it: phase, sessions, follow-ups, goals, and the sync state of each resource. */
export declare function viewCourse(db: Db, courseId: string): Promise<HandlerResult>;
//# sourceMappingURL=course.d.ts.map