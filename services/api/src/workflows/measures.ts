import { randomUUID } from 'node:crypto';
import type { MeasureRequest } from '@kap/contracts';
import { activityOfTimepoint, checkMeasure, instrumentTotal } from '@kap/domain';
import {
  buildMeasureResources,
  buildProvenance,
  collectionBundle,
  conflict,
  linkActivityOutcomes,
  measureKey,
  provenanceKey,
} from '@kap/fhir';
import { saveForSync } from '@kap/queue';
import { insertCourseMeasure } from '@kap/store';
import type { CarePlan, Patient, Reference, Resource } from '@medplum/fhirtypes';
import type { CommandContext, CommandResult } from '../http/command';
import { raiseAlerts } from './alerts';
import { loadCourse } from './course-state';

/**
 * Records a PHQ-9 and/or GAD-7 taken during or after a course: the QuestionnaireResponses,
 * the banded total scores linked from the CarePlan activity the measure follows, and, when
 * PHQ-9 item 9 is above 0, the safety Flag and the urgent Communication that the webhooks
 * carry to the care team. All in the command's transaction, all marked for EHR sync.
 */
export async function recordMeasure(courseId: string, request: MeasureRequest, ctx: CommandContext): Promise<CommandResult> {
  const { course, carePlan } = await loadCourse(ctx.tx, courseId);
  const refused = checkMeasure({
    startDate: course.startDate,
    stoppedAt: course.stoppedAt,
    measuredAt: request.measuredAt,
    now: ctx.now,
    timeZone: ctx.tenant.timeZone,
  });
  if (refused) throw conflict(refused.text);

  const recordedAt = ctx.now.toISOString();
  const measureId = randomUUID();
  const patient: Reference<Patient> = { reference: `Patient/${course.patientId}` };
  const carePlanRef: Reference<CarePlan> = { reference: `CarePlan/${carePlan.id}` };
  const built = buildMeasureResources({
    courseId,
    measureId,
    patient,
    carePlan: carePlanRef,
    measuredAt: request.measuredAt,
    recordedAt,
    ...(request.timepoint ? { timepoint: request.timepoint } : {}),
    ...(request.phq9 ? { phq9: request.phq9 } : {}),
    ...(request.gad7 ? { gad7: request.gad7 } : {}),
  });
  const totals = built.totals.map((o) => ({ reference: `Observation/${o.id}` }));
  const updatedPlan = linkActivityOutcomes(carePlan, activityOfTimepoint(request.timepoint), totals);
  const produced: Resource[] = [...built.all, updatedPlan];
  produced.push(
    buildProvenance({
      key: provenanceKey(measureKey(courseId, measureId)),
      targets: produced.map((r) => ({ reference: `${r.resourceType}/${r.id}` })),
      recorded: recordedAt,
      activity: 'CREATE',
      reason: built.alert ? 'Course measure recorded; PHQ-9 item 9 positive, care team alerted' : 'Course measure recorded',
    }),
  );
  // A stopped course does not silence it: the alert is the patient's, not the course's.
  const alertTimers = await raiseAlerts(ctx, produced, { patientId: course.patientId, courseId });
  const saved = await saveForSync(ctx.tx, course.patientId, produced, {
    reason: 'course-measure',
    webhookUrls: ctx.webhookUrls,
    courseId: course.id,
    hl7Out: ctx.tenant.hl7Out,
    alsoEnqueue: alertTimers,
  });

  const ref = (r: Resource | undefined): string | undefined => (r ? `${r.resourceType}/${r.id}` : undefined);
  const phq9Total = request.phq9 ? instrumentTotal('phq9', request.phq9) : null;
  const gad7Total = request.gad7 ? instrumentTotal('gad7', request.gad7) : null;
  const refs: Record<string, string> = {};
  for (const [name, r] of Object.entries({
    phq9Response: built.byInstrument.phq9?.response,
    phq9Total: built.byInstrument.phq9?.total,
    gad7Response: built.byInstrument.gad7?.response,
    gad7Total: built.byInstrument.gad7?.total,
    flag: built.alert?.flag,
    communication: built.alert?.communication,
  })) {
    const value = ref(r);
    if (value) refs[name] = value;
  }
  await insertCourseMeasure(ctx.tx, {
    id: measureId,
    courseId,
    measuredAt: request.measuredAt,
    timepoint: request.timepoint ?? null,
    phq9Total,
    gad7Total,
    selfHarm: !!built.alert,
    resourceRefs: refs,
  });

  const alerts = built.alert
    ? [
        {
          code: 'phq9-self-harm' as const,
          severity: 'caution' as const,
          text: built.alert.flag.code.text ?? 'PHQ-9 item 9 positive',
          flag: `Flag/${built.alert.flag.id}`,
          communication: `Communication/${built.alert.communication.id}`,
        },
      ]
    : [];
  return {
    status: 201,
    body: { measureId, resources: collectionBundle(saved, ctx.baseUrl), alerts },
    written: { patientId: course.patientId, resources: saved },
  };
}
