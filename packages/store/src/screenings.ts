/**
 * Screening results: the outcome of the KAP eligibility rules for one patient, the
 * resources that record it, and the clinician review a `needs-review` outcome awaits.
 */
import { randomUUID } from 'node:crypto';
import type { FindingCode, FindingSeverity, ScreeningOutcome } from '@kap/domain';
import type { TenantDb } from './tenant';
import type { WriteStatement } from './write-together';
import { instantParam, isoFrom, jsonParam, type Instant } from './sql-values';

/** One reason behind an outcome, as the domain's screening rules report it. */
export interface ScreeningReason {
  code: FindingCode;
  severity: FindingSeverity;
  text: string;
}

/** The clinician's decision on a `needs-review` screening. */
export interface ScreeningReview {
  decision: 'approved' | 'declined';
  reviewer: string;
  note?: string;
  /** ISO 8601 instant of the decision. */
  at: string;
}

export interface ScreeningRow {
  id: string;
  patientId: string;
  outcome: ScreeningOutcome;
  reasons: ScreeningReason[];
  /** References to the resources written, e.g. `{ eligibility: 'Observation/<id>' }`. */
  resourceRefs: Record<string, string>;
  performedAt: string;
  createdAt: string;
  review: ScreeningReview | null;
}

export interface NewScreening {
  /** Generated (a UUID) when left out. */
  id?: string;
  patientId: string;
  outcome: ScreeningOutcome;
  reasons: readonly ScreeningReason[];
  resourceRefs: Readonly<Record<string, string>>;
  performedAt: Instant;
}

const COLUMNS = 'id, patient_id, outcome, reasons, resource_refs, performed_at, created_at, review';

interface ScreeningRecord {
  id: string;
  patient_id: string;
  outcome: ScreeningOutcome;
  reasons: ScreeningReason[];
  resource_refs: Record<string, string>;
  performed_at: unknown;
  created_at: unknown;
  review: ScreeningReview | null;
}

function toRow(record: ScreeningRecord): ScreeningRow {
  return {
    id: record.id,
    patientId: record.patient_id,
    outcome: record.outcome,
    reasons: record.reasons,
    resourceRefs: record.resource_refs,
    performedAt: isoFrom(record.performed_at),
    createdAt: isoFrom(record.created_at),
    review: record.review ?? null,
  };
}

/** The columns and the row of a screening, for statements that read it beside other rows (as JSON). */
export const SCREENING_COLUMNS = COLUMNS;
export const screeningFromRecord = toRow;

/** Stores a screening; returns it as stored. */
export async function insertScreening(db: TenantDb, screening: NewScreening): Promise<ScreeningRow> {
  const { sql, params } = screeningInsert(screening);
  const [record] = await db.query<ScreeningRecord>(sql, [...params]);
  if (!record) throw new Error('INSERT returned no row');
  return toRow(record);
}

/** insertScreening as a statement, for writeTogether (a command that needs nothing back from it). */
export function screeningInsert(screening: NewScreening): WriteStatement {
  return {
    sql: `INSERT INTO screenings (id, patient_id, outcome, reasons, resource_refs, performed_at)
     VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6) RETURNING ${COLUMNS}`,
    params: [
      screening.id ?? randomUUID(),
      screening.patientId,
      screening.outcome,
      jsonParam(screening.reasons),
      jsonParam(screening.resourceRefs),
      instantParam(screening.performedAt),
    ],
    expectRows: 1,
    failure: 'INSERT returned no row',
  };
}

/** The screening with this id, or undefined. */
export async function getScreening(db: TenantDb, id: string): Promise<ScreeningRow | undefined> {
  const [record] = await db.query<ScreeningRecord>(`SELECT ${COLUMNS} FROM screenings WHERE id = $1`, [id]);
  return record && toRow(record);
}

/**
 * Records the review only while the screening is still undecided; returns false when it
 * is unknown or already reviewed (the API answers 409 or 404). Whether the outcome admits
 * a review at all (`needs-review`) is the caller's rule to check.
 */
export async function recordReview(db: TenantDb, id: string, review: ScreeningReview): Promise<boolean> {
  const stored: ScreeningReview = {
    decision: review.decision,
    reviewer: review.reviewer,
    ...(review.note !== undefined ? { note: review.note } : {}),
    at: instantParam(review.at),
  };
  const rows = await db.query('UPDATE screenings SET review = $2::jsonb WHERE id = $1 AND review IS NULL RETURNING id', [
    id,
    jsonParam(stored),
  ]);
  return rows.length > 0;
}
