import type { ReviewRequest, ScreeningRequest } from '@kap/contracts';
import { type ScreeningRuleTable } from '@kap/domain';
import type { CommandContext } from '../http/command';
import type { HandlerResult } from '../http/respond';
/**
 * Records a screening: evaluates it against the site's rules, maps it to FHIR, and stores
 * the resources, the screening and its outbox row in the command's transaction.
 */
export declare function recordScreening(request: ScreeningRequest, ctx: CommandContext, rules: ScreeningRuleTable): Promise<HandlerResult>;
/** Records the clinician's decision on a `needs-review` screening (api.md: only then). */
export declare function reviewScreening(screeningId: string, review: ReviewRequest, ctx: CommandContext): Promise<HandlerResult>;
//# sourceMappingURL=screening.d.ts.map