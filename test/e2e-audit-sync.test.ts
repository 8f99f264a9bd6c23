import type { AuditEvent, Bundle, Resource } from '@medplum/fhirtypes';
import request from 'supertest';
import { auditTrailOf } from '@kap/api';
import { expectExactlyOnce } from '@kap/testkit/course';
import { ehrAll } from '@kap/testkit/ehr-audit';
import { screeningRequest } from '@kap/testkit/requests';
import { startStack, type Stack } from '@kap/testkit/stack';

jest.setTimeout(120_000);

describe('EHR_SYNC_AUDIT=true', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ EHR_SYNC_AUDIT: 'true' });
    stack.startWorker();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('sends the AuditEvents of writes and of batched reads to the EHR, once each, about the EHR copy of the patient', async () => {
    const screening = await request(stack.app).post('/v1/screenings').send(screeningRequest()).expect(201);
    const patientId = ((screening.body.resources as Bundle).entry ?? []).map((e) => e.resource as Resource).find((r) => r.resourceType === 'Patient')?.id;
    const course = await request(stack.app).post('/v1/courses').send({ screeningId: screening.body.screeningId }).expect(201);
    await request(stack.app).get(`/fhir/R4/Patient/${patientId}`).expect(200);
    await auditTrailOf(stack.app).flush();
    await expectExactlyOnce(stack);

    const local = await stack.db.query<{ content: AuditEvent }>('SELECT content FROM audit_events');
    const inEhr = (await ehrAll(stack.sandbox.url, 'AuditEvent')) as AuditEvent[];
    expect(inEhr.map((e) => e.subtype?.[0]?.code).sort()).toEqual(['create', 'create', 'read']);
    expect(inEhr.map((e) => e.meta?.tag?.[0]?.code).sort()).toEqual(local.map((r) => r.content.id).sort());
    const [ehrPatient] = await ehrAll(stack.sandbox.url, 'Patient');
    for (const e of inEhr) expect(e.entity?.find((x) => x.role?.code === '1')?.what?.reference).toBe(`Patient/${ehrPatient?.id}`);

    // The course's sync list is about clinical data: the audit trail is not in it.
    const view = await request(stack.app).get(`/v1/courses/${course.body.courseId}`).expect(200);
    expect(view.body.sync.length).toBeGreaterThan(0);
    expect(view.body.sync.filter((s: { reference: string }) => s.reference.startsWith('AuditEvent/'))).toEqual([]);
  });
});
