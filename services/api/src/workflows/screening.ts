import { randomUUID } from 'node:crypto';
import type { ReviewRequest, ScreeningRequest } from '@kap/contracts';
import { evaluateScreening, type ScreeningRuleTable } from '@kap/domain';
import {
  applyScreeningReview,
  buildPatient,
  buildScreeningResources,
  collectionBundle,
  conflict,
  eligibilityKey,
  notFound,
  patientId as patientIdFor,
  questionnaireResponseKey,
  resourceId,
} from '@kap/fhir';
import { ensurePatient, getScreening, screeningInsert, readResource, recordReview, tenantOf } from '@kap/store';
import type { Observation } from '@medplum/fhirtypes';
import { saveForSync } from '@kap/queue';
import type { CommandContext, CommandResult } from '../http/command';
import { raiseAlerts } from './alerts';

/**
 * Records a screening: evaluates it against the site's rules, maps it to FHIR, and stores
 * the resources, the screening and its outbox row in the command's transaction.
 */
export async function recordScreening(request: ScreeningRequest, ctx: CommandContext, rules: ScreeningRuleTable): Promise<CommandResult> {
  const evaluation = evaluateScreening(
    { contraindications: request.contraindications, vitals: request.vitals, measures: request.measures },
    rules,
  );
  // A new Patient is stored below with the screening's resources, in the same statement.
  const { patient, created } = await ensurePatient(
    ctx.tx,
    { system: request.patient.system, value: request.patient.value },
    () => buildPatient(request.patient, tenantOf(ctx.tx)),
    // buildPatient's id, known before building: the lookup and the claim are one statement.
    { callerStoresNew: true, newId: patientIdFor(request.patient, tenantOf(ctx.tx)) },
  );
  const patientId = patient.id as string;
  const screeningId = randomUUID();
  const built = buildScreeningResources({ screeningId, request, evaluation, patient, recordedAt: ctx.now.toISOString() });
  const alertTimers = await raiseAlerts(ctx, built, { patientId, screeningId });
  // A Patient created here is new to the EHR too, so it joins what is marked for sync.
  const stored = await saveForSync(ctx.tx, patientId, created ? [patient, ...built] : built, {
    reason: 'screening',
    webhookUrls: ctx.webhookUrls,
    hl7Out: ctx.tenant.hl7Out,
    alsoEnqueue: alertTimers,
    defer: ctx.defer,
  });
  const produced = created ? stored : [patient, ...stored];
  // Nothing below reads it: it is sent with the command's last writes.
  ctx.defer([
    screeningInsert({
      id: screeningId,
      patientId,
      outcome: evaluation.outcome,
      reasons: evaluation.findings.map((f) => ({ code: f.code, severity: f.severity, text: f.text })),
      resourceRefs: {
        eligibility: `Observation/${resourceId(eligibilityKey(screeningId))}`,
        questionnaireResponse: `QuestionnaireResponse/${resourceId(questionnaireResponseKey(screeningId))}`,
      },
      performedAt: request.performedAt,
    }),
  ]);
  return {
    status: 201,
    body: {
      screeningId,
      outcome: evaluation.outcome,
      reasons: evaluation.findings,
      // The Patient leads the Bundle, so every reference in it resolves inside it.
      resources: collectionBundle(produced, ctx.baseUrl),
    },
    written: { patientId, resources: stored },
  };
}

/** Records the clinician's decision on a `needs-review` screening (docs/api.md#screening-outcome-and-reasons: only then). */
export async function reviewScreening(screeningId: string, review: ReviewRequest, ctx: CommandContext): Promise<CommandResult> {
  const screening = await getScreening(ctx.tx, screeningId);
  if (!screening) throw notFound(`Screening ${screeningId}`);
  if (screening.outcome !== 'needs-review') {
    throw conflict(`Only a needs-review screening can be reviewed; this one is ${screening.outcome}`);
  }
  const at = ctx.now.toISOString();
  if (!(await recordReview(ctx.tx, screeningId, { ...review, at }))) {
    throw conflict(`Screening ${screeningId} was already reviewed`);
  }
  const [type, id] = (screening.resourceRefs.eligibility ?? '').split('/');
  const eligibility = type && id ? await readResource(ctx.tx, type, id) : undefined;
  if (!eligibility) throw notFound(`Eligibility Observation of screening ${screeningId}`);
  const reviewed = applyScreeningReview(eligibility as Observation, review, at);
  const stored = await saveForSync(ctx.tx, screening.patientId, [reviewed], { reason: 'screening-review', webhookUrls: ctx.webhookUrls });
  return {
    status: 200,
    body: {
      screeningId,
      outcome: screening.outcome,
      decision: review.decision,
      resources: collectionBundle(stored, ctx.baseUrl),
    },
    written: { patientId: screening.patientId, resources: stored },
  };
}
