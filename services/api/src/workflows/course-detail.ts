import { SEVERITY_BAND_TABLES, TIMEPOINT_TEXT, clinicDayStart } from '@kap/domain';
import { KAP_CODE_SYSTEM_URL, LOINC, notFound } from '@kap/fhir';
import {
  getCourse,
  getScreening,
  listCourseMeasures,
  listSafetyAlertsByFlag,
  listDosingSessions,
  listGoalsOfCare,
  listPatientResources,
  readResource,
  type TenantDb,
} from '@kap/store';
import type { TenantSettings } from '../http/tenant-settings';
import { alertView } from './alerts';
import type { CarePlan, Flag, Goal, MedicationAdministration, Observation, Patient, Procedure, Resource } from '@medplum/fhirtypes';

/**
 * What a clinician needs to read a course at a glance, next to its status: the screening
 * with its reasons, the plan's activities, each session's route, dose and vitals against the
 * alert threshold, the measures, and every safety alert still active. Read from the stored
 * resources, so it shows what reaches the EHR.
 */

export interface AlertThreshold {
  readonly systolicAbove: number;
  readonly diastolicAbove: number;
}

const hasCode = (obs: Observation, code: string): boolean => obs.code.coding?.some((c) => c.code === code) ?? false;
const componentValue = (obs: Observation, code: string): number | undefined =>
  obs.component?.find((c) => c.code.coding?.some((x) => x.code === code))?.valueQuantity?.value;
const kapCode = (concept: { coding?: { system?: string; code?: string }[] } | undefined): string | undefined =>
  concept?.coding?.find((c) => c.system === KAP_CODE_SYSTEM_URL)?.code;

interface VitalPoint {
  at: string;
  systolic?: number;
  diastolic?: number;
  heartRate?: number;
  spo2?: number;
}

/** The session's vitals in time order, one point per time measured. */
function sessionVitals(resources: readonly Resource[], encounter: string): VitalPoint[] {
  const byTime = new Map<string, VitalPoint>();
  for (const r of resources) {
    if (r.resourceType !== 'Observation' || r.encounter?.reference !== encounter || !r.effectiveDateTime) continue;
    const point = byTime.get(r.effectiveDateTime) ?? { at: r.effectiveDateTime };
    if (hasCode(r, LOINC.bloodPressurePanel.code)) {
      point.systolic = componentValue(r, LOINC.systolic.code);
      point.diastolic = componentValue(r, LOINC.diastolic.code);
    } else if (hasCode(r, LOINC.heartRate.code)) {
      point.heartRate = r.valueQuantity?.value;
    } else if (hasCode(r, LOINC.oxygenSaturationPulseOx.code)) {
      point.spo2 = r.valueQuantity?.value;
    } else {
      continue;
    }
    byTime.set(r.effectiveDateTime, point);
  }
  return [...byTime.values()].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

export async function courseDetail(
  db: TenantDb,
  courseId: string,
  threshold: AlertThreshold,
  tenant: Pick<TenantSettings, 'timeZone' | 'config'>,
) {
  const course = await getCourse(db, courseId);
  if (!course) throw notFound(`Course ${courseId}`);
  const screening = await getScreening(db, course.screeningId);
  const sessions = await listDosingSessions(db, courseId);
  const goalsOfCare = await listGoalsOfCare(db, courseId);
  const measures = await listCourseMeasures(db, courseId);
  const resources = await listPatientResources(db, course.patientId);
  const carePlan = await readResource<CarePlan>(db, 'CarePlan', course.carePlanId);

  const flags = resources.filter((r): r is Flag => r.resourceType === 'Flag' && r.status === 'active');
  const loops = new Map(
    (
      await listSafetyAlertsByFlag(
        db,
        flags.map((f) => f.id as string),
      )
    ).map((a) => [a.flagId, a]),
  );
  const alerts = [];
  // One at a time: these reads share the view's one transaction connection.
  for (const f of flags) {
    const loop = loops.get(f.id as string);
    alerts.push({
      code: kapCode(f.code) ?? 'alert',
      text: f.code.text ?? '',
      at: f.period?.start ?? f.meta?.lastUpdated ?? '',
      flag: `Flag/${f.id}`,
      category: f.category?.[0]?.coding?.[0]?.code ?? null,
      // Who has seen it and how often it was escalated; null for a Flag raised before alerts had a loop.
      alert: loop ? await alertView(db, loop, tenant) : null,
    });
  }
  alerts.sort((a, b) => Date.parse(b.at) - Date.parse(a.at));

  const patient = resources.find((r): r is Patient => r.resourceType === 'Patient' && r.id === course.patientId);
  const name = patient?.name?.[0];
  return {
    patient: patient
      ? {
          name: name?.text ?? ([...(name?.given ?? []), name?.family ?? ''].join(' ').trim() || null),
          birthDate: patient.birthDate ?? null,
          identifier: patient.identifier?.[0]?.value ?? null,
        }
      : null,
    stoppedAt: course.stoppedAt,
    timeZone: tenant.timeZone,
    startsAt: clinicDayStart(course.startDate, tenant.timeZone),
    alertThreshold: threshold,
    severityBands: SEVERITY_BAND_TABLES,
    screening: screening
      ? {
          screeningId: screening.id,
          performedAt: screening.performedAt,
          outcome: screening.outcome,
          reasons: screening.reasons,
          review: screening.review,
        }
      : null,
    activities: (carePlan?.activity ?? []).map((a) => ({
      activity: kapCode(a.detail?.code) ?? '',
      title: a.detail?.code?.text ?? '',
      status: a.detail?.status ?? 'unknown',
      outcomes: (a.outcomeReference ?? []).map((r) => r.reference ?? ''),
    })),
    sessionDetails: sessions.map((s) => {
      const encounter = s.resourceRefs.encounter ?? '';
      const administration = resources.find(
        (r): r is MedicationAdministration => r.resourceType === 'MedicationAdministration' && r.context?.reference === encounter,
      );
      const dose = administration?.dosage?.dose;
      return {
        sessionNumber: s.sessionNumber,
        doseLevel: s.doseLevel,
        start: s.start,
        end: s.end,
        route: administration?.dosage?.route?.text ?? null,
        dose: dose?.value !== undefined ? { value: dose.value, unit: dose.code ?? dose.unit ?? '' } : null,
        vitals: sessionVitals(resources, encounter),
        alert: flags.some((f) => f.encounter?.reference === encounter),
      };
    }),
    goalsOfCareDiscussions: goalsOfCare.map((g) => {
      const ref = g.resourceRefs.procedure ?? '';
      const procedure = resources.find((r): r is Procedure => `${r.resourceType}/${r.id}` === ref);
      const goalRefs = (g.resourceRefs.goals ?? '').split(',').filter(Boolean);
      // A preference Observation names its discussion; matching the reference anywhere in it is enough here.
      const preferences = resources.filter(
        (r): r is Observation =>
          r.resourceType === 'Observation' && !!ref && JSON.stringify(r).includes(`"${ref}"`) && r.valueString !== undefined,
      );
      return {
        discussedAt: g.discussedAt,
        participants: (procedure?.performer ?? []).map((p) => p.actor.display ?? '').filter(Boolean),
        notes: (procedure?.note ?? []).map((n) => n.text),
        goals: goalRefs.flatMap((gr) => {
          const goal = resources.find((r): r is Goal => `${r.resourceType}/${r.id}` === gr);
          return goal
            ? [{ description: goal.description.text ?? '', priority: goal.priority?.text ?? goal.priority?.coding?.[0]?.display ?? null }]
            : [];
        }),
        preferences: preferences.map((o) => ({ label: o.code.text ?? '', value: o.valueString ?? '' })),
      };
    }),
    measures: measures.map((m) => ({
      measureId: m.id,
      measuredAt: m.measuredAt,
      timepoint: m.timepoint,
      timepointText: m.timepoint ? TIMEPOINT_TEXT[m.timepoint] : 'Measure',
      phq9Total: m.phq9Total,
      gad7Total: m.gad7Total,
      selfHarm: m.selfHarm,
    })),
    alerts,
  };
}
