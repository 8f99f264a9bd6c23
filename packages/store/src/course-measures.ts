/**
 * PHQ-9 and GAD-7 measures taken during or after a course (the screening holds the
 * baseline). The totals are kept next to the resources that record them, so the outcomes
 * of a course are one indexed query, not a scan of the patient's resources.
 */
import { randomUUID } from 'node:crypto';
import type { MeasureTimepoint } from '@kap/domain';
import type { TenantDb } from './tenant';
import { instantParam, isoFrom, jsonParam, type Instant } from './sql-values';

export interface CourseMeasureRow {
  id: string;
  courseId: string;
  measuredAt: string;
  timepoint: MeasureTimepoint | null;
  phq9Total: number | null;
  gad7Total: number | null;
  /** PHQ-9 item 9 was above 0: the measure raised the self-harm alert. */
  selfHarm: boolean;
  /** References to the resources written, e.g. `{ phq9Total: 'Observation/<id>' }`. */
  resourceRefs: Record<string, string>;
  createdAt: string;
}

export interface NewCourseMeasure {
  /** Generated (a UUID) when left out. */
  id?: string;
  courseId: string;
  measuredAt: Instant;
  timepoint?: MeasureTimepoint | null;
  phq9Total?: number | null;
  gad7Total?: number | null;
  selfHarm: boolean;
  resourceRefs: Readonly<Record<string, string>>;
}

const COLUMNS = 'id, course_id, measured_at, timepoint, phq9_total, gad7_total, self_harm, resource_refs, created_at';

interface CourseMeasureRecord {
  id: string;
  course_id: string;
  measured_at: unknown;
  timepoint: MeasureTimepoint | null;
  phq9_total: number | null;
  gad7_total: number | null;
  self_harm: boolean;
  resource_refs: Record<string, string>;
  created_at: unknown;
}

function toRow(record: CourseMeasureRecord): CourseMeasureRow {
  return {
    id: record.id,
    courseId: record.course_id,
    measuredAt: isoFrom(record.measured_at),
    timepoint: record.timepoint ?? null,
    phq9Total: record.phq9_total ?? null,
    gad7Total: record.gad7_total ?? null,
    selfHarm: record.self_harm,
    resourceRefs: record.resource_refs,
    createdAt: isoFrom(record.created_at),
  };
}

/** Stores a measure; returns it as stored. */
export async function insertCourseMeasure(db: TenantDb, measure: NewCourseMeasure): Promise<CourseMeasureRow> {
  const [record] = await db.query<CourseMeasureRecord>(
    `INSERT INTO course_measures (id, course_id, measured_at, timepoint, phq9_total, gad7_total, self_harm, resource_refs)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb) RETURNING ${COLUMNS}`,
    [
      measure.id ?? randomUUID(),
      measure.courseId,
      instantParam(measure.measuredAt),
      measure.timepoint ?? null,
      measure.phq9Total ?? null,
      measure.gad7Total ?? null,
      measure.selfHarm,
      jsonParam(measure.resourceRefs),
    ],
  );
  if (!record) throw new Error('INSERT returned no row');
  return toRow(record);
}

/** A course's measures in the order they were taken (ties: the order they were recorded). */
export async function listCourseMeasures(db: TenantDb, courseId: string): Promise<CourseMeasureRow[]> {
  const records = await db.query<CourseMeasureRecord>(
    `SELECT ${COLUMNS} FROM course_measures WHERE course_id = $1 ORDER BY measured_at, created_at, id`,
    [courseId],
  );
  return records.map(toRow);
}
