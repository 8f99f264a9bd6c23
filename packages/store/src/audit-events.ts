/**
 * The audit trail: AuditEvents, append-only, by patient and time. Apart from `resources`
 * because an AuditEvent has no versions and there are many more of them than of anything else.
 */
import type { AuditEvent } from '@medplum/fhirtypes';
import type { TenantDb } from './tenant';
import type { ResourceSearchResult } from './resources';
import { jsonParam, numberFrom } from './sql-values';
import type { WriteStatement } from './write-together';

export interface AuditRow {
  readonly event: AuditEvent;
  /** The patient the event names, so a search by patient is an index scan. */
  readonly patientId: string | null;
}

/** Rows per INSERT statement: well below PostgreSQL's 65535 parameters. */
const ROWS_PER_STATEMENT = 500;

/**
 * Appends AuditEvents in as few statements as it can. An id already stored is skipped, so a
 * batch retried after its commit's answer was lost records each event once.
 */
export async function insertAuditEvents(db: TenantDb, rows: readonly AuditRow[]): Promise<void> {
  for (const { sql, params } of auditEventsInsert(rows)) await db.query(sql, [...params]);
}

/** insertAuditEvents as statements (one per 500 rows), for writeTogether. */
export function auditEventsInsert(rows: readonly AuditRow[]): WriteStatement[] {
  const statements: WriteStatement[] = [];
  for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
    const chunk = rows.slice(start, start + ROWS_PER_STATEMENT);
    const params: unknown[] = [];
    const values = chunk.map(({ event, patientId }) => {
      if (!event.id || !event.recorded) throw new Error('An AuditEvent needs an id and a recorded time to be stored');
      params.push(event.id, event.recorded, patientId, jsonParam(event));
      const n = params.length;
      return `($${n - 3}, $${n - 2}, $${n - 1}, $${n}::jsonb)`;
    });
    statements.push({
      sql: `INSERT INTO audit_events (id, recorded, patient_id, content) VALUES ${values.join(', ')} ON CONFLICT (id) DO NOTHING RETURNING id`,
      params,
    });
  }
  return statements;
}

export async function readAuditEvent(db: TenantDb, id: string): Promise<AuditEvent | undefined> {
  const [row] = await db.query<{ content: AuditEvent }>('SELECT content FROM audit_events WHERE id = $1', [id]);
  return row?.content;
}

export interface AuditSearch {
  /** The patient id (not a reference). */
  readonly patient?: string;
  readonly id?: string;
  readonly count: number;
  readonly offset: number;
}

/** AuditEvents, newest first (an auditor asks what happened lately), paged. */
export async function searchAuditEvents(db: TenantDb, search: AuditSearch): Promise<ResourceSearchResult<AuditEvent>> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (search.patient !== undefined) {
    params.push(search.patient);
    where.push(`patient_id = $${params.length}`);
  }
  if (search.id !== undefined) {
    params.push(search.id);
    where.push(`id = $${params.length}`);
  }
  const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  const [counted] = await db.query<{ total: unknown }>(`SELECT count(*)::int AS total FROM audit_events ${filter}`, params);
  const count = Math.max(Math.trunc(search.count), 0);
  const offset = Math.max(Math.trunc(search.offset), 0);
  const rows = await db.query<{ content: AuditEvent }>(
    `SELECT content FROM audit_events ${filter} ORDER BY recorded DESC, id DESC LIMIT ${count} OFFSET ${offset}`,
    params,
  );
  return { total: numberFrom(counted?.total ?? 0), resources: rows.map((row) => row.content) };
}
