import { createEhrClient } from '@kap/ehr-client';
import { receiveInboundMessage } from '@kap/queue';
import pino from 'pino';
import request from 'supertest';
import { applyInboundMessage } from '@kap/worker';
import { screeningRequest } from '@kap/testkit/requests';
import { startStack, type Stack } from '@kap/testkit/stack';

jest.setTimeout(60_000);

describe('applying a hospital message', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ FOLLOW_UP_OFFSETS: 'PT1H,PT2H,PT3H' });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('two concurrent runs of the same job stop the course and tell the team exactly once', async () => {
    const mrn = `MRN-${Date.now()}-race`;
    const screening = await request(stack.app)
      .post('/v1/screenings')
      .send(screeningRequest({ patient: { system: 'urn:oid:2.16.840.1.113883.19.5.99999.1', value: mrn } }))
      .expect(201);
    const course = await request(stack.app).post('/v1/courses').send({ screeningId: screening.body.screeningId }).expect(201);
    const text = `MSH|^~\\&|EPIC|GEN|KAP|PALL|20260301||ADT^A03|RACE-1|P|2.5.1\rPID|1||${mrn}^^^&2.16.840.1.113883.19.5.99999.1&ISO^MR\rPV1|1|I${'|'.repeat(34)}20`;
    const { message } = await receiveInboundMessage(stack.tenantDb, {
      channel: 'hl7v2',
      sender: 'EPIC|GEN',
      controlId: 'RACE-1',
      messageType: 'ADT^A03',
      content: text,
      status: 'accepted',
    });
    const [outbox] = await stack.db.query<{ key: string }>(
      "SELECT key FROM outbox WHERE topic = 'inbound-message' AND payload->>'inboundMessageId' = $1",
      [String(message.id)],
    );
    const deps = {
      webhookUrls: [],
      config: stack.config,
      db: stack.tenantDb,
      // A hospital message never reads the EHR; a call would fail loudly.
      ehr: createEhrClient({ baseUrl: 'http://127.0.0.1:9/fhir', auth: { mode: 'none' }, timeoutMs: 100 }),
      logger: pino({ level: 'silent' }),
    };
    const data = { inboundMessageId: message.id, outboxKey: String(outbox?.key), tenantId: 'default' };
    const results = await Promise.all([applyInboundMessage(deps, data), applyInboundMessage(deps, data)]);
    // One applies it; the other finds it applied, under the row lock or (if it starts late) before it.
    expect(results.filter((r) => r === 'applied: patient')).toHaveLength(1);
    expect(results.filter((r) => r !== 'applied: patient')).toEqual([expect.stringMatching(/^(already applied|obsolete: processed)$/)]);

    const view = await request(stack.app).get(`/v1/courses/${course.body.courseId}`).expect(200);
    expect(view.body.stoppedReason).toBe('deceased');
    const communications = await stack.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM resources WHERE resource_type = 'Communication' AND content->'category'->0->'coding'->0->>'code' = 'care-plan-update'",
    );
    expect(communications[0]?.n).toBe(1);
    const [row] = await stack.db.query<{ status: string; outcome: Array<{ stoppedCourses: string[] }> }>(
      'SELECT status, outcome FROM inbound_messages WHERE id = $1',
      [message.id],
    );
    expect(row?.status).toBe('processed');
    expect(row?.outcome[0]?.stoppedCourses).toEqual([course.body.courseId]);
  });
});
