/** Goals-of-care discussions recorded for a course. */
import { randomUUID } from 'node:crypto';
import type { TenantDb } from './tenant';
import { instantParam, isoFrom, jsonParam, type Instant } from './sql-values';

export interface GoalsOfCareRow {
  id: string;
  courseId: string;
  discussedAt: string;
  /** References to the resources written, e.g. `{ composition: 'Composition/<id>' }`. */
  resourceRefs: Record<string, string>;
  createdAt: string;
}

export interface NewGoalsOfCare {
  /** Generated (a UUID) when left out. */
  id?: string;
  courseId: string;
  discussedAt: Instant;
  resourceRefs: Readonly<Record<string, string>>;
}

const COLUMNS = 'id, course_id, discussed_at, resource_refs, created_at';

interface GoalsOfCareRecord {
  id: string;
  course_id: string;
  discussed_at: unknown;
  resource_refs: Record<string, string>;
  created_at: unknown;
}

function toRow(record: GoalsOfCareRecord): GoalsOfCareRow {
  return {
    id: record.id,
    courseId: record.course_id,
    discussedAt: isoFrom(record.discussed_at),
    resourceRefs: record.resource_refs,
    createdAt: isoFrom(record.created_at),
  };
}

/** The columns and the row of a discussion, for statements that read them beside other rows (as JSON). */
export const GOALS_OF_CARE_COLUMNS = COLUMNS;
export const goalsOfCareFromRecord = toRow;

/** Stores a discussion; returns it as stored. */
export async function insertGoalsOfCare(db: TenantDb, goals: NewGoalsOfCare): Promise<GoalsOfCareRow> {
  const [record] = await db.query<GoalsOfCareRecord>(
    `INSERT INTO goals_of_care (id, course_id, discussed_at, resource_refs)
     VALUES ($1, $2, $3, $4::jsonb) RETURNING ${COLUMNS}`,
    [goals.id ?? randomUUID(), goals.courseId, instantParam(goals.discussedAt), jsonParam(goals.resourceRefs)],
  );
  if (!record) throw new Error('INSERT returned no row');
  return toRow(record);
}

/** A course's discussions, oldest first. */
export async function listGoalsOfCare(db: TenantDb, courseId: string): Promise<GoalsOfCareRow[]> {
  const records = await db.query<GoalsOfCareRecord>(`SELECT ${COLUMNS} FROM goals_of_care WHERE course_id = $1 ORDER BY discussed_at, id`, [
    courseId,
  ]);
  return records.map(toRow);
}
