import type { AuditEvent, Bundle, Resource } from '@medplum/fhirtypes';
import { auditTrailOf } from '@kap/api';
import { expectExactlyOnce } from '@kap/testkit/course';
import { ehrAll } from '@kap/testkit/ehr-audit';
import { serveClient, type ServedClient } from '@kap/testkit/client';
import { screeningRequest } from '@kap/testkit/requests';
import { startStack, type Stack } from '@kap/testkit/stack';

jest.setTimeout(120_000);

describe('EHR_SYNC_AUDIT=true', () => {
  let stack: Stack;
  let client: ServedClient;
  beforeAll(async () => {
    stack = await startStack({ EHR_SYNC_AUDIT: 'true' });
    client = await serveClient(stack.app);
    stack.startWorker();
  });
  afterAll(async () => {
    await client?.close();
    await stack?.close();
  });

  it('sends the AuditEvents of writes and of batched reads to the EHR, once each, about the EHR copy of the patient', async () => {
    const { kap } = client;
    const screening = await kap.createScreening({ body: screeningRequest() });
    const patientId = ((screening.resources as unknown as Bundle).entry ?? [])
      .map((e) => e.resource as Resource)
      .find((r) => r.resourceType === 'Patient')?.id;
    const course = await kap.createCourse({ body: { screeningId: screening.screeningId } });
    await kap.readFhirResource({ path: { type: 'Patient', id: patientId as string } });
    await auditTrailOf(stack.app).flush();
    await expectExactlyOnce(stack);

    const local = await stack.db.query<{ content: AuditEvent }>('SELECT content FROM audit_events');
    const inEhr = (await ehrAll(stack.sandbox.url, 'AuditEvent')) as AuditEvent[];
    expect(inEhr.map((e) => e.subtype?.[0]?.code).sort()).toEqual(['create', 'create', 'read']);
    expect(inEhr.map((e) => e.meta?.tag?.[0]?.code).sort()).toEqual(local.map((r) => r.content.id).sort());
    const [ehrPatient] = await ehrAll(stack.sandbox.url, 'Patient');
    for (const e of inEhr) expect(e.entity?.find((x) => x.role?.code === '1')?.what?.reference).toBe(`Patient/${ehrPatient?.id}`);

    // The course's sync list is about clinical data: the audit trail is not in it.
    const view = await kap.getCourse({ path: { id: course.courseId } });
    expect(view.sync.length).toBeGreaterThan(0);
    expect(view.sync.filter((s) => s.reference.startsWith('AuditEvent/'))).toEqual([]);
  });
});
