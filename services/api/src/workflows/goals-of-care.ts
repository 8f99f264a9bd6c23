import { randomUUID } from 'node:crypto';
import type { GoalsOfCareRequest } from '@kap/contracts';
import { checkCourseActive, checkNotBeforeCourse } from '@kap/domain';
import { buildGoalsOfCareResources, buildProvenance, collectionBundle, conflict, goalsOfCareKey, provenanceKey } from '@kap/fhir';
import { saveForSync } from '@kap/queue';
import { insertGoalsOfCare } from '@kap/store';
import type { CommandContext, CommandResult } from '../http/command';
import { loadCourse } from './course-state';

/**
 * Records a goals-of-care discussion: a Procedure, one Goal per stated goal, and a CarePlan
 * revision that references the goals, which the palliative team receives as a webhook.
 */
export async function recordGoalsOfCare(courseId: string, request: GoalsOfCareRequest, ctx: CommandContext): Promise<CommandResult> {
  const { course, facts, carePlan } = await loadCourse(ctx.tx, courseId);
  const stopped = checkCourseActive(facts);
  if (stopped) throw conflict(stopped.text);
  const early = checkNotBeforeCourse(course.startDate, request.discussedAt, ctx.tenant.timeZone, 'discussedAt');
  if (early) throw conflict(early.text, 'business-rule', 'discussedAt');
  const discussionId = randomUUID();
  const goc = buildGoalsOfCareResources({
    courseId,
    discussionId,
    patient: { reference: `Patient/${course.patientId}` },
    carePlan,
    request,
    recordedAt: ctx.now.toISOString(),
    timeZone: ctx.tenant.timeZone,
  });
  const provenance = buildProvenance({
    key: provenanceKey(goalsOfCareKey(courseId, discussionId)),
    targets: goc.all.map((r) => ({ reference: `${r.resourceType}/${r.id}` })),
    recorded: ctx.now.toISOString(),
    activity: 'CREATE',
    reason: 'Goals-of-care discussion recorded',
  });
  await insertGoalsOfCare(ctx.tx, {
    id: discussionId,
    courseId,
    discussedAt: request.discussedAt,
    resourceRefs: { procedure: `Procedure/${goc.procedure.id}`, goals: goc.goals.map((g) => `Goal/${g.id}`).join(',') },
  });
  const saved = await saveForSync(ctx.tx, course.patientId, [...goc.all, provenance], {
    reason: 'goals-of-care',
    webhookUrls: ctx.webhookUrls,
    courseId,
  });
  return {
    status: 201,
    body: { carePlanId: carePlan.id, resources: collectionBundle(saved, ctx.baseUrl) },
    written: { patientId: course.patientId, resources: saved },
  };
}
