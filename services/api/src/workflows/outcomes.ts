import { INSTRUMENT_NAMES, severityBand, type InstrumentName, type MeasureTimepoint, type SeverityBand } from '@kap/domain';
import { notFound, resourceId, SCORE_DEFS, screeningKey } from '@kap/fhir';
import { getCourse, listCourseMeasures, readResource, type CourseRow, type TenantDb } from '@kap/store';
import type { Observation } from '@medplum/fhirtypes';
import type { HandlerResult } from '../http/respond';

export interface OutcomePoint {
  readonly at: string;
  readonly timepoint: 'baseline' | MeasureTimepoint | null;
  readonly total: number;
  readonly severity: SeverityBand;
  readonly observation: string;
}

export interface CourseOutcomes {
  readonly phq9: OutcomePoint[];
  readonly gad7: OutcomePoint[];
  readonly change: Record<InstrumentName, number | null>;
}

/** The screening's total of `instrument`, read by its deterministic id; none when it was not measured. */
async function baseline(db: TenantDb, screeningId: string, instrument: InstrumentName): Promise<OutcomePoint | undefined> {
  const def = SCORE_DEFS.find((d) => d.measure === instrument);
  if (!def) return undefined;
  const id = resourceId(screeningKey(screeningId, def.path));
  const obs = await readResource<Observation>(db, 'Observation', id);
  if (!obs || typeof obs.valueInteger !== 'number' || !obs.effectiveDateTime) return undefined;
  return {
    at: obs.effectiveDateTime,
    timepoint: 'baseline',
    total: obs.valueInteger,
    severity: severityBand(instrument, obs.valueInteger).band,
    observation: `Observation/${id}`,
  };
}

/**
 * PHQ-9 and GAD-7 totals of a course (docs/api.md#measures-and-outcomes): the screening as baseline first, then every
 * measure in time order; `change` is the last total minus the baseline, or null without both.
 */
async function outcomesOf(db: TenantDb, course: CourseRow): Promise<CourseOutcomes> {
  const courseId = course.id;
  const measures = await listCourseMeasures(db, courseId);
  const result = {
    phq9: [] as OutcomePoint[],
    gad7: [] as OutcomePoint[],
    change: { phq9: null, gad7: null } as Record<InstrumentName, number | null>,
  };
  for (const instrument of INSTRUMENT_NAMES) {
    const points: OutcomePoint[] = [];
    const base = await baseline(db, course.screeningId, instrument);
    if (base) points.push(base);
    for (const m of measures) {
      const total = instrument === 'phq9' ? m.phq9Total : m.gad7Total;
      const observation = m.resourceRefs[`${instrument}Total`];
      if (total === null || !observation) continue;
      points.push({ at: m.measuredAt, timepoint: m.timepoint, total, severity: severityBand(instrument, total).band, observation });
    }
    result[instrument] = points;
    const last = points[points.length - 1];
    result.change[instrument] = base && last && last !== base ? last.total - base.total : null;
  }
  return result;
}

export async function viewOutcomes(db: TenantDb, courseId: string): Promise<HandlerResult> {
  const course = await getCourse(db, courseId);
  if (!course) throw notFound(`Course ${courseId}`);
  return { status: 200, body: await outcomesOf(db, course), patientId: course.patientId };
}
