import { TIMEPOINT_TEXT, severityBand, type InstrumentName } from '@kap/domain';
import {
  KAP_CODE_SYSTEM_URL,
  SCORE_DEFS,
  resourceId,
  screeningKey,
  screeningSelfHarmAlertKey,
  selfHarmAlertResourceKey,
  type CourseNoteModel,
} from '@kap/fhir';
import {
  getCourse,
  getScreening,
  listCourseMeasures,
  listDosingSessions,
  listFollowUps,
  listGoalsOfCare,
  listPatientResources,
  type TenantDb,
} from '@kap/store';
import type { Flag, Goal, MedicationAdministration, Observation, Patient, Procedure, Resource } from '@medplum/fhirtypes';

/**
 * The course note's content, read from what is stored for the course: the rows the
 * workflows wrote and the resources that went (or go) to the EHR, so the note says what
 * the chart holds. Undefined for a course this tenant does not hold.
 */
export async function readCourseNoteModel(db: TenantDb, courseId: string): Promise<CourseNoteModel | undefined> {
  const course = await getCourse(db, courseId);
  if (!course) return undefined;
  // One after another: inside the rebuild's transaction they share one connection.
  const screening = await getScreening(db, course.screeningId);
  const sessions = await listDosingSessions(db, courseId);
  const measures = await listCourseMeasures(db, courseId);
  const discussions = await listGoalsOfCare(db, courseId);
  const followUps = await listFollowUps(db, courseId);
  const resources = await listPatientResources(db, course.patientId);
  const byRef = new Map(resources.map((r) => [`${r.resourceType}/${r.id}`, r]));
  const flags = resources.filter((r): r is Flag => r.resourceType === 'Flag');

  const patient = byRef.get(`Patient/${course.patientId}`) as Patient | undefined;
  const name = patient?.name?.[0];
  const mrn = patient?.identifier?.[0]?.value ?? null;

  const scoreAt = (instrument: InstrumentName): { total: number; severity: string; at: string } | null => {
    const def = SCORE_DEFS.find((d) => d.measure === instrument);
    const obs = def
      ? (byRef.get(`Observation/${resourceId(screeningKey(course.screeningId, def.path))}`) as Observation | undefined)
      : undefined;
    if (typeof obs?.valueInteger !== 'number' || !obs.effectiveDateTime) return null;
    return { total: obs.valueInteger, severity: severityBand(instrument, obs.valueInteger).label, at: obs.effectiveDateTime };
  };
  const score = (instrument: InstrumentName, total: number | null) =>
    total === null ? null : { total, severity: severityBand(instrument, total).label };
  const basePhq9 = scoreAt('phq9');
  const baseGad7 = scoreAt('gad7');
  const baseline =
    basePhq9 || baseGad7
      ? [
          {
            label: TIMEPOINT_TEXT.baseline,
            measuredAt: (basePhq9 ?? baseGad7)?.at ?? '',
            baseline: true,
            phq9: basePhq9 && { total: basePhq9.total, severity: basePhq9.severity },
            gad7: baseGad7 && { total: baseGad7.total, severity: baseGad7.severity },
            selfHarm: byRef.has(`Flag/${resourceId(selfHarmAlertResourceKey(screeningSelfHarmAlertKey(course.screeningId), 'flag'))}`),
          },
        ]
      : [];

  const stamps = [
    course.createdAt,
    screening?.createdAt,
    screening?.review?.at,
    course.stoppedAt,
    ...sessions.map((s) => s.createdAt),
    ...measures.map((m) => m.createdAt),
    ...discussions.map((d) => d.createdAt),
    ...followUps.map((f) => f.updatedAt),
    ...flags.map((f) => f.meta?.lastUpdated),
  ].filter((s): s is string => !!s);
  const asOf = new Date(Math.max(...stamps.map((s) => Date.parse(s)))).toISOString();

  return {
    courseId,
    patient: {
      id: course.patientId,
      name: name?.text ?? ([...(name?.given ?? []), name?.family ?? ''].join(' ').trim() || null),
      birthDate: patient?.birthDate ?? null,
      identifier: mrn,
    },
    period: { start: course.startDate, ...(course.stoppedAt ? { end: course.stoppedAt } : {}) },
    asOf,
    screening: screening
      ? {
          performedAt: screening.performedAt,
          outcome: screening.outcome,
          reasons: screening.reasons.map((r) => ({ code: r.code, severity: r.severity, text: r.text })),
          review: screening.review,
        }
      : null,
    safetyAlerts: flags
      .map((f) => ({
        text: f.code.text ?? kapCode(f) ?? 'Alert',
        raisedAt: f.period?.start ?? f.meta?.lastUpdated ?? '',
        active: f.status === 'active',
      }))
      .sort((a, b) => Date.parse(a.raisedAt) - Date.parse(b.raisedAt)),
    sessions: sessions.map((s) => {
      const encounter = s.resourceRefs.encounter ?? '';
      const administration = resources.find(
        (r): r is MedicationAdministration =>
          r.resourceType === 'MedicationAdministration' && !!encounter && r.context?.reference === encounter,
      );
      const dose = administration?.dosage?.dose;
      return {
        sessionNumber: s.sessionNumber,
        start: s.start,
        end: s.end,
        doseLevel: s.doseLevel,
        dose: dose?.value !== undefined ? { value: dose.value, unit: dose.code ?? dose.unit ?? '' } : null,
        route: administration?.dosage?.route?.text ?? null,
        alerts: flags.filter((f) => !!encounter && f.encounter?.reference === encounter).map((f) => f.code.text ?? 'Alert'),
      };
    }),
    measures: [
      ...baseline,
      ...measures.map((m) => ({
        label: m.timepoint ? TIMEPOINT_TEXT[m.timepoint] : 'Measure',
        measuredAt: m.measuredAt,
        baseline: false,
        phq9: score('phq9', m.phq9Total),
        gad7: score('gad7', m.gad7Total),
        selfHarm: m.selfHarm,
      })),
    ],
    goalsOfCare: discussions.map((d) => {
      const ref = d.resourceRefs.procedure ?? '';
      const procedure = byRef.get(ref) as Procedure | undefined;
      const goals = (d.resourceRefs.goals ?? '')
        .split(',')
        .filter(Boolean)
        .flatMap((g) => {
          const goal = byRef.get(g) as Goal | undefined;
          return goal
            ? [{ description: goal.description.text ?? '', priority: goal.priority?.text ?? goal.priority?.coding?.[0]?.display ?? null }]
            : [];
        });
      return {
        discussedAt: d.discussedAt,
        participants: (procedure?.performer ?? []).map((p) => p.actor.display ?? '').filter(Boolean),
        goals,
        preferences: resources
          .filter((r): r is Observation => r.resourceType === 'Observation' && r.valueString !== undefined && !!ref && refersTo(r, ref))
          .map((o) => ({ label: o.code.text ?? '', value: o.valueString ?? '' })),
        notes: (procedure?.note ?? []).map((n) => n.text),
      };
    }),
    followUps: followUps.map((f) => ({
      sessionNumber: f.sessionNumber,
      sequence: f.sequence,
      dueBy: f.dueBy,
      status: f.status,
      completedAt: f.completedAt,
      note: f.note,
    })),
    stop: course.stoppedReason && course.stoppedAt ? { reason: course.stoppedReason, at: course.stoppedAt } : null,
  };
}

const kapCode = (f: Flag): string | undefined => f.code.coding?.find((c) => c.system === KAP_CODE_SYSTEM_URL)?.code;
/** A preference Observation names its discussion somewhere in it (`partOf`, `derivedFrom` or `focus`). */
const refersTo = (r: Resource, ref: string): boolean => JSON.stringify(r).includes(`"${ref}"`);
