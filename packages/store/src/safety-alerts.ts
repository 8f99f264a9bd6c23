/**
 * Safety alerts (a PHQ-9 item 9 self-harm Flag, an in-session blood-pressure Flag) and the
 * loop that closes them: acknowledged by a clinician, resolved, or escalated while nobody
 * has. The FHIR Flag, Communications and Provenance are the clinical record; this row is
 * what the loop is decided from, with the alert's history as the page shows it.
 */
import type { TenantDb } from './tenant';
import { instantParam, isoFrom, isoOrNull, jsonParam, numberFrom, textOrNull, type Instant } from './sql-values';

export type SafetyAlertKind = 'phq9-self-harm' | 'session-blood-pressure';
export type SafetyAlertStatus = 'open' | 'acknowledged' | 'resolved';

/** One step of an alert's history. */
export interface SafetyAlertEvent {
  readonly at: string;
  readonly event: 'raised' | 'escalated' | 'acknowledged' | 'resolved';
  /** The clinician who acknowledged or resolved it. */
  readonly by?: string;
  readonly note?: string;
  /** Which escalation (1, 2, ...). */
  readonly escalation?: number;
  /** The Communication that told the team, `Communication/<id>`. */
  readonly communication?: string;
}

export interface SafetyAlertRow {
  id: string;
  kind: SafetyAlertKind;
  patientId: string;
  courseId: string | null;
  screeningId: string | null;
  flagId: string;
  communicationId: string;
  raisedAt: string;
  status: SafetyAlertStatus;
  acknowledgedBy: string | null;
  acknowledgedAt: string | null;
  resolvedBy: string | null;
  resolvedAt: string | null;
  escalations: number;
  history: SafetyAlertEvent[];
}

export interface NewSafetyAlert {
  id: string;
  kind: SafetyAlertKind;
  patientId: string;
  courseId?: string | null;
  screeningId?: string | null;
  flagId: string;
  communicationId: string;
  raisedAt: Instant;
}

const COLUMNS =
  'id, kind, patient_id, course_id, screening_id, flag_id, communication_id, raised_at, status, acknowledged_by, acknowledged_at, resolved_by, resolved_at, escalations, history';

interface SafetyAlertRecord {
  id: string;
  kind: SafetyAlertKind;
  patient_id: string;
  course_id: unknown;
  screening_id: unknown;
  flag_id: string;
  communication_id: string;
  raised_at: unknown;
  status: SafetyAlertStatus;
  acknowledged_by: unknown;
  acknowledged_at: unknown;
  resolved_by: unknown;
  resolved_at: unknown;
  escalations: unknown;
  history: SafetyAlertEvent[] | string;
}

function toRow(r: SafetyAlertRecord): SafetyAlertRow {
  return {
    id: r.id,
    kind: r.kind,
    patientId: r.patient_id,
    courseId: textOrNull(r.course_id),
    screeningId: textOrNull(r.screening_id),
    flagId: r.flag_id,
    communicationId: r.communication_id,
    raisedAt: isoFrom(r.raised_at),
    status: r.status,
    acknowledgedBy: textOrNull(r.acknowledged_by),
    acknowledgedAt: isoOrNull(r.acknowledged_at),
    resolvedBy: textOrNull(r.resolved_by),
    resolvedAt: isoOrNull(r.resolved_at),
    escalations: numberFrom(r.escalations),
    history: typeof r.history === 'string' ? (JSON.parse(r.history) as SafetyAlertEvent[]) : r.history,
  };
}

/** Records a raised alert; one whose Flag is already recorded keeps its row (returns undefined). */
export async function insertSafetyAlert(db: TenantDb, a: NewSafetyAlert): Promise<SafetyAlertRow | undefined> {
  const raisedAt = instantParam(a.raisedAt);
  const history: SafetyAlertEvent[] = [{ at: raisedAt, event: 'raised', communication: `Communication/${a.communicationId}` }];
  const [record] = await db.query<SafetyAlertRecord>(
    `INSERT INTO safety_alerts (id, kind, patient_id, course_id, screening_id, flag_id, communication_id, raised_at, history)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
     ON CONFLICT (flag_id) DO NOTHING RETURNING ${COLUMNS}`,
    [a.id, a.kind, a.patientId, a.courseId ?? null, a.screeningId ?? null, a.flagId, a.communicationId, raisedAt, jsonParam(history)],
  );
  return record && toRow(record);
}

export async function getSafetyAlert(db: TenantDb, id: string): Promise<SafetyAlertRow | undefined> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return undefined;
  const [record] = await db.query<SafetyAlertRecord>(`SELECT ${COLUMNS} FROM safety_alerts WHERE id = $1`, [id]);
  return record && toRow(record);
}

/** Alerts in one state, of one patient or all, oldest first, a page at a time. */
export async function listSafetyAlerts(
  db: TenantDb,
  q: { status: SafetyAlertStatus; patientId?: string; limit: number; offset: number },
): Promise<SafetyAlertRow[]> {
  const records = await db.query<SafetyAlertRecord>(
    `SELECT ${COLUMNS} FROM safety_alerts WHERE status = $1 AND ($2::text IS NULL OR patient_id = $2)
     ORDER BY raised_at, id LIMIT $3 OFFSET $4`,
    [q.status, q.patientId ?? null, q.limit, q.offset],
  );
  return records.map(toRow);
}

/** The alerts of these Flags (`Flag` ids). */
export async function listSafetyAlertsByFlag(db: TenantDb, flagIds: readonly string[]): Promise<SafetyAlertRow[]> {
  if (flagIds.length === 0) return [];
  const records = await db.query<SafetyAlertRecord>(
    `SELECT ${COLUMNS} FROM safety_alerts WHERE flag_id = ANY($1::text[]) ORDER BY raised_at, id`,
    [[...flagIds]],
  );
  return records.map(toRow);
}

/**
 * Moves an alert on, compare-and-set: only from one of `from`, so an acknowledgement and
 * an escalation that race cannot both win, and a resolved alert stays resolved. Returns
 * the updated row, or undefined when it was not in one of `from`.
 */
export async function advanceSafetyAlert(
  db: TenantDb,
  id: string,
  from: readonly SafetyAlertStatus[],
  change: { status: SafetyAlertStatus; event: SafetyAlertEvent },
): Promise<SafetyAlertRow | undefined> {
  const e = change.event;
  const [record] = await db.query<SafetyAlertRecord>(
    `UPDATE safety_alerts SET
       status = $3,
       acknowledged_by = CASE WHEN $4 = 'acknowledged' AND acknowledged_by IS NULL THEN $5 ELSE acknowledged_by END,
       acknowledged_at = CASE WHEN $4 = 'acknowledged' AND acknowledged_at IS NULL THEN $6::timestamptz ELSE acknowledged_at END,
       resolved_by = CASE WHEN $4 = 'resolved' THEN $5 ELSE resolved_by END,
       resolved_at = CASE WHEN $4 = 'resolved' THEN $6::timestamptz ELSE resolved_at END,
       escalations = CASE WHEN $4 = 'escalated' THEN escalations + 1 ELSE escalations END,
       history = history || $7::jsonb
     WHERE id = $1 AND status = ANY($2::text[]) RETURNING ${COLUMNS}`,
    [id, [...from], change.status, e.event, e.by ?? null, instantParam(e.at), jsonParam([e])],
  );
  return record && toRow(record);
}
