import { DEFAULT_TENANT_ID } from '@kap/config';
import { saveForSync } from '@kap/queue';
import { forTenant } from '@kap/store';
import type { Bundle, DocumentReference, Resource } from '@medplum/fhirtypes';
import request from 'supertest';
import { until } from '@kap/testkit/poll';
import { v2ControlId, v2MessageKind } from '@kap/fhir';
import { startInterfaceEngine, type EngineAnswer, type InterfaceEngine } from '@kap/testkit/interface-engine';
import { screeningRequest, sessionOneRequest } from '@kap/testkit/requests';
import { startStack, type Stack } from '@kap/testkit/stack';
import { startTestIssuer, type TestIssuer } from '@kap/testkit/tokens';

jest.setTimeout(120_000);

const SYSTEM = 'urn:oid:2.16.840.1.113883.19.5.99999.1';

/**
 * HL7 v2 to the interface engine on the whole stack (PostgreSQL, Redis, the worker): what a
 * screening and a dosing session store goes out as ORU^R01 to a raw-socket engine, once per
 * resource version, whatever the engine or the link does.
 */
describe('HL7 v2 out', () => {
  let stack: Stack;
  let engine: InterfaceEngine;
  beforeAll(async () => {
    engine = await startInterfaceEngine();
    stack = await startStack({
      HL7_OUT_HOST: '127.0.0.1',
      HL7_OUT_PORT: String(engine.port),
      HL7_OUT_ACK_TIMEOUT: 'PT2S',
      HL7_OUT_RECEIVING_APPLICATION: 'ENGINE',
      HL7_OUT_RECEIVING_FACILITY: 'HOSP',
      HL7_ASSIGNING_AUTHORITIES: `HOSP=${SYSTEM}`,
    });
    stack.startWorker();
  });
  afterAll(async () => {
    await stack.close();
    await engine.close();
  });

  interface V2Row {
    id: number;
    controlId: string;
    done: boolean;
    dead: boolean;
    lastError: string | null;
  }

  async function rowsOf(patientId: string): Promise<V2Row[]> {
    const rows = await stack.db.query<{
      id: number;
      payload: { controlId: string };
      completed_at: unknown;
      dead_at: unknown;
      last_error: string | null;
    }>(
      `SELECT id::int AS id, payload, completed_at, dead_at, last_error FROM outbox WHERE topic = 'hl7-out' AND patient_id = $1 ORDER BY id`,
      [patientId],
    );
    return rows.map((r) => ({
      id: r.id,
      controlId: r.payload.controlId,
      done: r.completed_at !== null,
      dead: r.dead_at !== null,
      lastError: r.last_error,
    }));
  }

  /** MSH-10 of every stored version of the patient's resources that is sent as HL7 v2. */
  async function expectedControlIds(patientId: string): Promise<string[]> {
    const versions = await stack.db.query<{ resource_type: string; id: string; version_id: number; content: Resource }>(
      `SELECT h.resource_type, h.id, h.version_id, h.content FROM resource_history h JOIN resources r USING (resource_type, id) WHERE r.patient_id = $1`,
      [patientId],
    );
    return versions
      .filter((v) => v2MessageKind(v.content))
      .map((v) => v2ControlId(v.resource_type, v.id, String(v.version_id)))
      .sort();
  }

  async function screen(): Promise<{ patientId: string; mrn: string; screeningId: string }> {
    const body = screeningRequest();
    const res = await request(stack.app).post('/v1/screenings').send(body).expect(201);
    const patientId = ((res.body.resources as Bundle).entry ?? [])
      .map((e) => e.resource as Resource)
      .find((r) => r.resourceType === 'Patient')?.id as string;
    return { patientId, mrn: body.patient.value, screeningId: res.body.screeningId as string };
  }

  async function settled(patientId: string): Promise<V2Row[]> {
    let rows: V2Row[] = [];
    await until(
      async () => {
        rows = await rowsOf(patientId);
        return rows.length > 0 && rows.every((r) => r.done || r.dead);
      },
      60_000,
      'every v2 message of the patient to be acknowledged or refused',
      200,
    );
    return rows;
  }

  const acceptedFor = (ids: readonly string[]): string[] =>
    engine.accepted
      .filter((a) => ids.includes(a.controlId))
      .map((a) => a.controlId)
      .sort();

  it('sends a screening and a dosing session as ORU^R01, each version once, with PID-3 as the hospital feed reads it', async () => {
    engine.answer = () => ({ kind: 'ack', code: 'AA' });
    const { patientId, mrn, screeningId } = await screen();
    const course = await request(stack.app).post('/v1/courses').send({ screeningId }).expect(201);
    await request(stack.app)
      .post(`/v1/courses/${course.body.courseId}/dosing-sessions`)
      .send(sessionOneRequest(new Date(Date.now() - 2 * 3600_000)))
      .expect(201);
    const rows = await settled(patientId);
    expect(rows.every((r) => r.done)).toBe(true);
    const expected = await expectedControlIds(patientId);
    // Vital signs of the screening and the session, and the PHQ-9 and GAD-7 totals.
    expect(expected.length).toBeGreaterThanOrEqual(9);
    expect([...new Set(rows.map((r) => r.controlId))].sort()).toEqual(expected);
    expect(acceptedFor(expected)).toEqual(expected);

    const mine = engine.accepted.filter((a) => expected.includes(a.controlId));
    const types = mine.map(({ message }) => message.getSegment('MSH')?.getField(9).toString());
    expect(types.filter((t) => t === 'ORU^R01^ORU_R01').length).toBeGreaterThanOrEqual(9);
    // The course note, rebuilt at the course start and after the session, goes as MDM^T02.
    expect(types).toContain('MDM^T02^MDM_T02');
    expect(types.filter((t) => t !== 'ORU^R01^ORU_R01' && t !== 'MDM^T02^MDM_T02')).toEqual([]);
    for (const { message } of mine) {
      expect(message.getSegment('MSH')?.getField(5).toString()).toBe('ENGINE');
      expect(message.getSegment('PID')?.getField(3).toString()).toBe(`${mrn}^^^HOSP^MR`);
    }
    const obx = mine.flatMap(({ message }) => message.getAllSegments('OBX').map((s) => s.getComponent(3, 1)));
    for (const code of ['8480-6', '8462-4', '8867-4', '9279-1', '29463-7', '44261-6', '70274-6', 'SEVERITY']) expect(obx).toContain(code);
    const phq = mine.find(({ message }) => message.getSegment('OBX')?.getComponent(3, 1) === '44261-6')?.message;
    // The screening's PHQ-9 items sum to 10: moderate.
    expect(phq?.getAllSegments('OBX').map((s) => s.getField(5).toString())).toEqual(['10', expect.stringMatching(/^severity-moderate\^/)]);

    const status = (await request(stack.app).get('/v1/admin/sync-status').expect(200)).body.tenants[0].hl7v2;
    expect(status.delivered).toBeGreaterThanOrEqual(expected.length);
    expect(
      status.messages
        .filter((m: { controlId: string }) => expected.includes(m.controlId))
        .every((m: { state: string }) => m.state === 'delivered'),
    ).toBe(true);
  });

  it('sends each version of a clinical note as MDM^T02, the new one naming the one it replaces', async () => {
    engine.answer = () => ({ kind: 'ack', code: 'AA' });
    const { patientId, mrn } = await screen();
    const html = '<h1>Course note</h1><p>PHQ-9 10 → 6 | GAD-7 8 ^ 4 &amp; calm</p>';
    const note = (text: string, n: number): DocumentReference => ({
      resourceType: 'DocumentReference',
      id: `note-${n}-${patientId}`,
      ...(n > 1
        ? { relatesTo: [{ code: 'replaces' as const, target: { reference: `DocumentReference/note-${n - 1}-${patientId}` } }] }
        : {}),
      status: 'current',
      docStatus: 'final',
      type: { coding: [{ system: 'http://loinc.org', code: '11506-3', display: 'Progress note' }] },
      category: [
        { coding: [{ system: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category', code: 'clinical-note' }] },
      ],
      subject: { reference: `Patient/${patientId}` },
      date: `2026-03-0${n}T12:00:00Z`,
      content: [
        { attachment: { contentType: 'text/html', data: Buffer.from(text).toString('base64') } },
        { attachment: { contentType: 'application/pdf', data: Buffer.from(`%PDF-1.4 synthetic ${n}`).toString('base64') } },
      ],
    });
    const save = (docs: DocumentReference[]): Promise<Resource[]> =>
      forTenant(stack.db, DEFAULT_TENANT_ID).transaction((tx) => saveForSync(tx, patientId, docs, { reason: 'course-note', hl7Out: true }));
    const [first] = await save([note(html, 1)]);
    // As a rebuild saves it: the old version marked superseded (not sent itself) with the new one.
    await save([{ ...(first as DocumentReference), status: 'superseded' }, note(`${html}<p>Session 2</p>`, 2)]);
    const rows = await settled(patientId);
    expect(rows.every((r) => r.done)).toBe(true);
    expect(rows.map((r) => r.controlId)).not.toContain(v2ControlId('DocumentReference', `note-1-${patientId}`, '2'));
    const ids = [
      v2ControlId('DocumentReference', `note-1-${patientId}`, '1'),
      v2ControlId('DocumentReference', `note-2-${patientId}`, '1'),
    ];
    const mdm = ids.map((id) => engine.accepted.find((a) => a.controlId === id)?.message);
    expect(mdm.map((m) => m?.getSegment('MSH')?.getField(9).toString())).toEqual(['MDM^T02^MDM_T02', 'MDM^T02^MDM_T02']);
    expect(mdm.map((m) => m?.getSegment('TXA')?.getField(12).toString())).toEqual([
      `note-1-${patientId}_1^KAP`,
      `note-2-${patientId}_1^KAP`,
    ]);
    expect(mdm.map((m) => m?.getSegment('TXA')?.getField(13).toString())).toEqual(['', `note-1-${patientId}_1^KAP`]);
    expect(mdm[1]?.getSegment('PID')?.getField(3).toString()).toBe(`${mrn}^^^HOSP^MR`);
    const [ft, ed] = mdm[1]?.getAllSegments('OBX') ?? [];
    expect(ft?.getField(5).toString()).toBe('Course note\\.br\\PHQ-9 10 → 6 \\F\\ GAD-7 8 \\S\\ 4 \\T\\ calm\\.br\\Session 2');
    expect(Buffer.from(ed?.getComponent(5, 5) ?? '', 'base64').toString()).toBe('%PDF-1.4 synthetic 2');

    // The same version saved again (an unchanged rebuild) is a row of its own, but not sent again.
    const before = engine.arrivals.get(ids[1] as string);
    await save([note(`${html}<p>Session 2</p>`, 2)]);
    const again = await settled(patientId);
    expect(again.filter((r) => r.controlId === ids[1])).toHaveLength(2);
    expect(again.every((r) => r.done)).toBe(true);
    expect(engine.arrivals.get(ids[1] as string)).toBe(before);
  });

  it.each(['AE', 'AR'] as const)(
    'makes a message the engine answers %s a dead letter with its text, and delivers it once re-driven',
    async (code) => {
      let refuse = true;
      engine.answer = (message) =>
        refuse && message.getAllSegments('OBX').some((s) => s.getComponent(3, 1) === '8867-4')
          ? { kind: 'ack', code, text: 'Heart rate | not accepted ^ here' }
          : { kind: 'ack', code: 'AA' };
      const { patientId } = await screen();
      const rows = await settled(patientId);
      const dead = rows.filter((r) => r.dead);
      expect(dead).toHaveLength(1);
      expect(dead[0]?.lastError).toBe(
        `interface engine answered ${code}: Heart rate | not accepted ^ here; Heart rate | not accepted ^ here (detail)`,
      );
      // Messages saved after the refused one were not held back by it.
      expect(rows.filter((r) => r.done)).toHaveLength(rows.length - 1);
      const letters = (await request(stack.app).get('/v1/admin/dead-letters').expect(200)).body.deadLetters as Array<{
        id: number;
        topic: string;
      }>;
      expect(letters.find((l) => l.id === dead[0]?.id)).toMatchObject({ topic: 'hl7-out' });
      const status = (await request(stack.app).get('/v1/admin/sync-status').expect(200)).body.tenants[0].hl7v2;
      expect(status.messages.find((m: { outboxId: number }) => m.outboxId === dead[0]?.id)).toMatchObject({
        state: 'refused',
        messageType: 'ORU^R01',
      });

      refuse = false;
      await request(stack.app).post(`/v1/admin/dead-letters/${dead[0]?.id}/redrive`).expect(200);
      const after = await settled(patientId);
      expect(after.every((r) => r.done)).toBe(true);
      const expected = await expectedControlIds(patientId);
      expect(acceptedFor(expected)).toEqual(expected);
      expect(engine.receipts.get(dead[0]?.controlId as string)).toBeGreaterThanOrEqual(2);
    },
  );

  const faults: Array<[string, (nth: number) => EngineAnswer]> = [
    ['no ACK', (nth) => (nth === 1 ? { kind: 'silent' } : { kind: 'ack', code: 'AA' })],
    ['a slow ACK', (nth) => ({ kind: 'ack', code: 'AA', delayMs: nth === 1 ? 4000 : 0 })],
    ['a connection dropped mid-ACK', (nth) => (nth === 1 ? { kind: 'drop-mid-ack' } : { kind: 'ack', code: 'AA' })],
    ['a connection dropped as the message arrives', (nth) => (nth === 1 ? { kind: 'drop-mid-message' } : { kind: 'ack', code: 'AA' })],
  ];
  it.each(faults)('retries after %s with the same MSH-10, and the engine keeps each message once', async (name, answer) => {
    engine.answer = (_message, nth) => answer(nth);
    const { patientId } = await screen();
    const rows = await settled(patientId);
    expect(rows.every((r) => r.done)).toBe(true);
    const expected = await expectedControlIds(patientId);
    expect(acceptedFor(expected)).toEqual(expected);
    // Every message was sent again under its own MSH-10 (a busy machine may need more than one retry).
    for (const id of expected) expect(engine.arrivals.get(id)).toBeGreaterThanOrEqual(2);
    // One lost on arrival never reached the engine whole the first time.
    if (name === 'a connection dropped as the message arrives')
      for (const id of expected) expect(engine.receipts.get(id)).toBe((engine.arrivals.get(id) ?? 0) - 1);
    // In order per patient: the engine first kept them in the order they were saved.
    const order = engine.accepted.map((a) => a.controlId).filter((id) => expected.includes(id));
    expect(order).toEqual([...new Set(rows.map((r) => r.controlId))]);
  });
});

/** Per tenant: only a tenant that names an interface engine sends HL7 v2, and only to its own. */
describe('HL7 v2 out per tenant', () => {
  let issuer: TestIssuer;
  let engine: InterfaceEngine;
  let stack: Stack;
  const tokens: Record<'north' | 'south', string> = { north: '', south: '' };
  beforeAll(async () => {
    issuer = await startTestIssuer();
    engine = await startInterfaceEngine();
    const yaml = [
      'tenants:',
      '  - id: north',
      '    env:',
      `      HL7_ASSIGNING_AUTHORITIES: HOSP=${SYSTEM}`,
      '      HL7_OUT_HOST: 127.0.0.1',
      `      HL7_OUT_PORT: ${engine.port}`,
      '      HL7_OUT_RECEIVING_FACILITY: NORTHHOSP',
      '  - id: south',
      '    env:',
      `      HL7_ASSIGNING_AUTHORITIES: HOSP=${SYSTEM}`,
    ].join('\n');
    stack = await startStack({ ...issuer.env(), HL7_OUT_ACK_TIMEOUT: 'PT2S' }, { tenantsFile: { path: 'tenants.yaml', text: yaml } });
    stack.startWorker();
    const scope = 'kap/v1.read kap/v1.write kap/admin system/*.rs system/*.c';
    tokens.north = await issuer.mint({ tenant: 'north', scope, clientId: 'north-app' });
    tokens.south = await issuer.mint({ tenant: 'south', scope, clientId: 'south-app' });
  });
  afterAll(async () => {
    await stack.close();
    await engine.close();
    await issuer.close();
  });

  it("sends the north tenant's results to its engine, and nothing of the south tenant's", async () => {
    const northBody = screeningRequest();
    const southBody = screeningRequest();
    await request(stack.app).post('/v1/screenings').set('Authorization', `Bearer ${tokens.north}`).send(northBody).expect(201);
    await request(stack.app).post('/v1/screenings').set('Authorization', `Bearer ${tokens.south}`).send(southBody).expect(201);
    const rows = async (tenant: string): Promise<Array<{ done: boolean }>> =>
      (
        await stack.db.query<{ completed_at: unknown }>(`SELECT completed_at FROM outbox WHERE topic = 'hl7-out' AND tenant_id = $1`, [
          tenant,
        ])
      ).map((r) => ({
        done: r.completed_at !== null,
      }));
    await until(
      async () => {
        const north = await rows('north');
        return north.length > 0 && north.every((r) => r.done);
      },
      60_000,
      "the north tenant's messages",
      200,
    );
    expect(await rows('south')).toEqual([]);
    const mrns = new Set(engine.accepted.map((a) => a.message.getSegment('PID')?.getComponent(3, 1)));
    expect([...mrns]).toEqual([northBody.patient.value]);
    expect(engine.accepted.every((a) => a.message.getSegment('MSH')?.getField(6).toString() === 'NORTHHOSP')).toBe(true);
    const status = async (token: string): Promise<Record<string, unknown>> =>
      (await request(stack.app).get('/v1/admin/sync-status').set('Authorization', `Bearer ${token}`).expect(200)).body.tenants[0];
    expect((await status(tokens.north)).hl7v2).toMatchObject({ delivered: engine.accepted.length, refused: 0 });
    expect((await status(tokens.south)).hl7v2).toBeUndefined();
  });
});
