import type { AuditEvent } from '@medplum/fhirtypes';
import { insertAuditEvents, readAuditEvent, searchAuditEvents } from './audit-events';
import { openTestDb, type TestDb } from './test-support';

const event = (id: string, recorded: string, patientId?: string): AuditEvent => ({
  resourceType: 'AuditEvent',
  id,
  type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
  recorded,
  agent: [{ requestor: true, who: { display: 'client' } }],
  source: { observer: { display: 'adapter' } },
  ...(patientId ? { entity: [{ what: { reference: `Patient/${patientId}` } }] } : {}),
});

describe('audit events', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb('store_audit');
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it('appends, searches by patient newest first with paging, reads by id, and stores a retried batch once', async () => {
    const rows = [
      { event: event('a1', '2026-01-01T10:00:00Z', 'p1'), patientId: 'p1' },
      { event: event('a2', '2026-01-01T11:00:00Z', 'p1'), patientId: 'p1' },
      { event: event('a3', '2026-01-01T12:00:00Z', 'p2'), patientId: 'p2' },
      { event: event('a4', '2026-01-01T13:00:00Z'), patientId: null },
    ];
    await insertAuditEvents(t.db, rows);
    await insertAuditEvents(t.db, rows.slice(0, 2));
    const p1 = await searchAuditEvents(t.db, { patient: 'p1', count: 1, offset: 0 });
    expect([p1.total, p1.resources.map((r) => r.id)]).toEqual([2, ['a2']]);
    expect((await searchAuditEvents(t.db, { patient: 'p1', count: 10, offset: 1 })).resources.map((r) => r.id)).toEqual(['a1']);
    expect((await searchAuditEvents(t.db, { id: 'a3', count: 10, offset: 0 })).resources.map((r) => r.id)).toEqual(['a3']);
    expect((await searchAuditEvents(t.db, { id: 'a3', patient: 'p1', count: 10, offset: 0 })).total).toBe(0);
    expect(await readAuditEvent(t.db, 'a4')).toEqual(rows[3]?.event);
    expect(await readAuditEvent(t.db, 'nope')).toBeUndefined();
  });

  it('is append-only: an update is refused', async () => {
    await insertAuditEvents(t.db, [{ event: event('b1', '2026-01-02T10:00:00Z', 'p3'), patientId: 'p3' }]);
    await expect(t.db.query(`UPDATE audit_events SET patient_id = 'p9' WHERE id = 'b1'`)).rejects.toThrow(/append-only/);
    expect((await searchAuditEvents(t.db, { patient: 'p3', count: 10, offset: 0 })).total).toBe(1);
  });

  it('rolls back with the transaction it was written in', async () => {
    await t.db
      .transaction(async (tx) => {
        await insertAuditEvents(tx, [{ event: event('c1', '2026-01-03T10:00:00Z', 'p4'), patientId: 'p4' }]);
        throw new Error('abort');
      })
      .catch(() => undefined);
    expect(await readAuditEvent(t.db, 'c1')).toBeUndefined();
  });

  it('writes a batch larger than one statement holds', async () => {
    const many = Array.from({ length: 1203 }, (_, i) => ({ event: event(`m${i}`, '2026-01-04T10:00:00Z', 'p5'), patientId: 'p5' }));
    await insertAuditEvents(t.db, many);
    expect((await searchAuditEvents(t.db, { patient: 'p5', count: 0, offset: 0 })).total).toBe(1203);
  });
});
