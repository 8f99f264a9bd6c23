import { Hl7Message } from '@medplum/core';
import { Hl7Client } from '@medplum/hl7';
import type { Communication, Patient } from '@medplum/fhirtypes';
import promClient from 'prom-client';
import request from 'supertest';
import type { RunningMllpListener } from '@kap/mllp';
import { startStackMllp } from '@kap/testkit/mllp-listener';
import { until } from '@kap/testkit/poll';
import { ehrAll } from '@kap/testkit/ehr-audit';
import { frame, msa, rawMllp } from '@kap/testkit/mllp';
import { screeningRequest, courseStartYesterday } from '@kap/testkit/requests';
import { startStack, startWebhookReceiver, type Stack } from '@kap/testkit/stack';

jest.setTimeout(120_000);

const SYSTEM = 'urn:oid:2.16.840.1.113883.19.5.99999.1';
let seq = 0;
const controlId = (): string => `T${Date.now().toString(36)}${++seq}`;
/** PV1 with PV1-36 (discharge disposition) set. */
const pv1 = (disposition: string): string => `PV1|1|I${'|'.repeat(34)}${disposition}`;

/** A real-world-shaped ADT: EVN, PID with several PID-3 repetitions, PV1, and a Z-segment. */
function adt(
  event: string,
  mrn: string,
  opts: { version?: string; id?: string; pv1?: string; pid5?: string; pid7?: string; pid8?: string } = {},
): string {
  return [
    `MSH|^~\\&|EPIC|GENHOSP|KAP|PALLIATIVE|20260301120000+0100||ADT^${event}^ADT_${event === 'A40' ? 'A39' : event}|${opts.id ?? controlId()}|P|${opts.version ?? '2.5.1'}|||AL|NE`,
    `EVN|${event}|20260301120000+0100`,
    `PID|1||SSN-${mrn}^^^SSA^SS~${mrn}^^^HOSP^MR~${mrn}-ENC^^^ENCSYS^VN||${opts.pid5 ?? 'Synthetic^Test'}||${opts.pid7 ?? '19500402'}|${opts.pid8 ?? 'F'}`,
    opts.pv1 ?? pv1(''),
    'ZPV|custom|site-specific^value',
  ].join('\r');
}

describe('HL7 v2 ADT over MLLP', () => {
  let stack: Stack;
  let mllp: RunningMllpListener;
  let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let client: Hl7Client;

  beforeAll(async () => {
    hooks = await startWebhookReceiver();
    stack = await startStack({ WEBHOOK_URLS: hooks.url, FOLLOW_UP_OFFSETS: 'PT1H,PT2H,PT3H', HL7_ASSIGNING_AUTHORITIES: `HOSP=${SYSTEM}` });
    stack.startWorker();
    mllp = await startStackMllp(stack);
    client = new Hl7Client({ host: '127.0.0.1', port: mllp.port });
  });
  afterAll(async () => {
    await client?.close();
    await mllp?.close();
    await stack?.close();
    await hooks?.close();
  });

  const send = async (text: string): Promise<{ code: string; controlId: string; ack: Hl7Message }> => {
    const ack = await client.sendAndWait(Hl7Message.parse(text), { timeoutMs: 10_000 });
    return {
      code: ack.getSegment('MSA')?.getField(1)?.toString() ?? '',
      controlId: ack.getSegment('MSA')?.getField(2)?.toString() ?? '',
      ack,
    };
  };

  /** The BullMQ ids of the follow-ups' timer jobs, as the relay recorded them on their outbox rows. */
  const timerJobIds = async (followUpIds: string[]): Promise<string[]> =>
    (
      await stack.db.query<{ job_ids: string[] }>(
        "SELECT job_ids FROM outbox WHERE topic = 'follow-up-schedule' AND payload->>'followUpId' IN (SELECT jsonb_array_elements_text($1::jsonb))",
        [JSON.stringify(followUpIds)],
      )
    ).flatMap((r) => r.job_ids);

  /** A patient with a running course and three scheduled follow-ups (jobs in Redis). */
  async function patientWithCourse(mrn: string): Promise<{ courseId: string; patientId: string; followUpIds: string[] }> {
    const screening = await request(stack.app)
      .post('/v1/screenings')
      .send(
        screeningRequest({
          patient: {
            system: SYSTEM,
            value: mrn,
            name: { family: 'Synthetic', given: ['Test'] },
            birthDate: '1950-04-02',
            gender: 'female',
          },
        }),
      )
      .expect(201);
    const course = await request(stack.app)
      .post('/v1/courses')
      .send({ screeningId: screening.body.screeningId, startDate: courseStartYesterday() })
      .expect(201);
    const start = new Date(Date.now() - 90 * 60_000);
    const session = await request(stack.app)
      .post(`/v1/courses/${course.body.courseId}/dosing-sessions`)
      .send({
        sessionNumber: 1,
        doseLevel: 'low',
        route: 'intramuscular',
        dose: { value: 0.5, unit: 'mg/kg' },
        start: start.toISOString(),
        end: new Date().toISOString(),
        vitals: [{ at: start.toISOString(), systolic: 128, diastolic: 80, heartRate: 72, spo2: 98 }],
      })
      .expect(201);
    const followUpIds = (session.body.followUps as Array<{ id: string }>).map((f) => f.id);
    await until(async () => (await timerJobIds(followUpIds)).length === 6, 20_000, 'follow-up jobs dispatched');
    const carePlan = await request(stack.app).get(`/fhir/R4/CarePlan/${course.body.carePlanId}`).expect(200);
    const patientId = String(carePlan.body.subject.reference).split('/')[1] as string;
    return { courseId: course.body.courseId, patientId, followUpIds };
  }

  const courseState = async (courseId: string) => (await request(stack.app).get(`/v1/courses/${courseId}`).expect(200)).body;
  const count = async (sql: string, params: unknown[] = []): Promise<number> =>
    Number((await stack.db.query<{ n: number }>(sql, params))[0]?.n ?? 0);

  it('A03 with PV1-36 20 stops the course as deceased, removes its follow-up jobs, tells the team and updates the EHR; a resend changes nothing', async () => {
    const mrn = `MRN-${Date.now()}-a`;
    const { courseId, patientId, followUpIds } = await patientWithCourse(mrn);
    const jobIds = await timerJobIds(followUpIds);
    for (const jobId of jobIds) expect(await stack.queues.followUps.getJob(jobId)).toBeDefined();
    const id = controlId();
    const message = adt('A03', mrn, { id, pv1: pv1('20') });
    const first = await send(message);
    expect(first).toMatchObject({ code: 'AA', controlId: id });

    await until(async () => (await courseState(courseId)).stoppedReason === 'deceased', 30_000, 'course stopped as deceased');
    const course = await courseState(courseId);
    expect(course.followUps.map((f: { status: string }) => f.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    await until(
      async () => {
        for (const jobId of jobIds) if (await stack.queues.followUps.getJob(jobId)) return false;
        return true;
      },
      20_000,
      'follow-up jobs gone from Redis',
    );
    await stack.drained();
    const communications = (await request(stack.app).get(`/fhir/R4/Communication?patient=${patientId}`).expect(200)).body.entry.map(
      (e: { resource: Communication }) => e.resource,
    );
    const told = communications.filter((c: Communication) => c.category?.[0]?.coding?.[0]?.code === 'care-plan-update');
    expect(told).toHaveLength(1);
    expect(told[0].priority).toBe('urgent');
    expect(hooks.deliveries.some((d) => d.event === 'care-team.notification' && d.body.resource.id === told[0].id)).toBe(true);
    const synced = await courseState(courseId);
    const carePlanRef = synced.sync.find((s: { reference: string }) => s.reference.startsWith('CarePlan/'))?.ehrReference as string;
    const ehrCarePlan = (await (await fetch(`${stack.sandbox.url}/${carePlanRef}`)).json()) as { status?: string };
    expect(ehrCarePlan.status).toBe('revoked');
    const ehrTasks = await ehrAll(stack.sandbox.url, 'Task');
    expect(ehrTasks.filter((t) => (t as { status?: string }).status === 'cancelled').length).toBeGreaterThanOrEqual(3);

    // The same message (same sender and MSH-10) again: acknowledged AA, applied once.
    const resources = await count('SELECT count(*)::int AS n FROM resource_history');
    const outbox = await count('SELECT count(*)::int AS n FROM outbox');
    const again = await send(message);
    expect(again).toMatchObject({ code: 'AA', controlId: id });
    expect(await count('SELECT count(*)::int AS n FROM resource_history')).toBe(resources);
    expect(await count('SELECT count(*)::int AS n FROM outbox')).toBe(outbox);
    expect(await count('SELECT count(*)::int AS n FROM inbound_messages WHERE control_id = $1', [id])).toBe(1);
  });

  it('answers garbage with AR, keeps it for an operator, and keeps serving the same connection and others', async () => {
    const raw = await rawMllp(mllp.port);
    await raw.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await raw.write(frame('this is not HL7 at all'));
    const [strayAck, garbageAck] = await raw.acks(2);
    expect(msa(strayAck as string).code).toBe('AR');
    expect(msa(garbageAck as string).code).toBe('AR');
    expect(garbageAck).toMatch(/\rERR\|/);
    expect(await count("SELECT count(*)::int AS n FROM inbound_messages WHERE status = 'rejected' AND content LIKE '%not HL7%'")).toBe(1);
    const kept = (await request(stack.app).get('/v1/admin/inbound-messages?status=rejected&content=true').expect(200)).body.inboundMessages;
    expect(kept.find((m: { content?: string }) => m.content === 'this is not HL7 at all')).toMatchObject({
      ackCode: 'AR',
      status: 'rejected',
    });
    const id = controlId();
    await raw.write(frame(adt('A01', `MRN-nobody-${Date.now()}`, { id })));
    const acks = await raw.acks(3);
    expect(msa(acks[2] as string)).toMatchObject({ code: 'AA', controlId: id });
    // Over the size limit (64 KiB here): AR naming its MSH-10, then that connection is closed
    // (a sender over the limit is never read further); the sender reconnects and goes on.
    const big = controlId();
    await raw.write(frame(`${adt('A08', 'MRN-big', { id: big })}\rZXX|${'x'.repeat(70_000)}`));
    const more = await raw.acks(4);
    expect(msa(more[3] as string)).toMatchObject({ code: 'AR', controlId: big });
    expect(msa(more[3] as string).text).toMatch(/exceeds the limit/);
    await raw.closed();
    const again = await rawMllp(mllp.port);
    await again.write(frame(adt('A08', `MRN-nobody-${Date.now()}`, { id: `${big}b` })));
    expect(msa((await again.acks(1))[0] as string)).toMatchObject({ code: 'AA', controlId: `${big}b` });
    await again.close();
    expect((await send(adt('A04', `MRN-nobody2-${Date.now()}`))).code).toBe('AA');
    const metrics = await promClient.register.getSingleMetricAsString('kap_hl7_messages_total');
    expect(metrics).toMatch(/kap_hl7_messages_total\{message_type="unknown",ack="AR"\} [1-9]/);
    expect(metrics).toMatch(/kap_hl7_messages_total\{message_type="ADT\^A01",ack="AA"\} [1-9]/);
  });

  it('refuses a sender that streams past the size limit without ending its frame: AR, then the connection is closed', async () => {
    const raw = await rawMllp(mllp.port);
    const id = controlId();
    await raw.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(`${adt('A08', 'MRN-stream', { id })}\rZXX|`)]));
    // Bounded: at most 64 times the limit, and it stops as soon as the listener hangs up.
    const chunk = Buffer.alloc(16 * 1024, 0x78);
    let written = 0;
    for (let i = 0; i < 256 && !raw.isClosed(); i++) {
      try {
        await raw.write(chunk);
        written += chunk.length;
      } catch {
        break; // EPIPE / ECONNRESET: the listener has closed the connection.
      }
    }
    const [ack] = await raw.acks(1);
    expect(msa(ack as string)).toMatchObject({ code: 'AR', controlId: id });
    expect(ack).toMatch(/\rERR\|/);
    expect(msa(ack as string).text).toMatch(/exceeds the limit of 65536 bytes/);
    await raw.closed();
    expect(written).toBeLessThan(256 * chunk.length);
    const kept = await stack.db.query<{ ack_code: string; n: number }>(
      'SELECT ack_code, length(content)::int AS n FROM inbound_messages WHERE control_id = $1',
      [id],
    );
    expect(kept).toHaveLength(1);
    expect(kept[0]?.ack_code).toBe('AR');
    // Kept for an operator: its head only, not what it streamed.
    expect(kept[0]?.n).toBeLessThanOrEqual(64 * 1024);
  });

  it('acknowledges a message for an unknown patient AA and changes nothing', async () => {
    const before = await count('SELECT count(*)::int AS n FROM resource_history');
    const id = controlId();
    expect(await send(adt('A03', `MRN-unknown-${Date.now()}`, { id, pv1: pv1('20') }))).toMatchObject({ code: 'AA', controlId: id });
    await until(
      async () =>
        (await count("SELECT count(*)::int AS n FROM inbound_messages WHERE control_id = $1 AND status = 'processed'", [id])) === 1,
      20_000,
      'message applied',
    );
    expect(await count('SELECT count(*)::int AS n FROM resource_history')).toBe(before);
  });

  it('reads several frames in one write and one frame written byte by byte, in versions 2.3 to 2.5.1', async () => {
    const raw = await rawMllp(mllp.port);
    const ids = [controlId(), controlId(), controlId()];
    await raw.write(
      Buffer.concat([
        frame(adt('A01', `MRN-multi-${Date.now()}`, { id: ids[0], version: '2.3' })),
        frame(adt('A04', `MRN-multi-${Date.now()}`, { id: ids[1], version: '2.4' })),
        frame(adt('A08', `MRN-multi-${Date.now()}`, { id: ids[2], version: '2.5' })),
      ]),
    );
    const acks = await raw.acks(3);
    expect(acks.map((a) => msa(a))).toEqual(ids.map((controlId) => expect.objectContaining({ code: 'AA', controlId })));
    const one = controlId();
    // Latin-1 per MSH-18, LF segment ends, sent one byte per write.
    const latin = `MSH|^~\\&|LAB|GENHOSP|KAP|PALL|20260301||ADT^A08|${one}|P|2.3||||||8859/1\nPID|1||MRN-byte^^^HOSP||M\xfcller^Ren\xe9e||19500101|F\n`;
    for (const byte of frame(latin, 'latin1')) await raw.write(Buffer.from([byte]));
    const all = await raw.acks(4);
    expect(msa(all[3] as string)).toMatchObject({ code: 'AA', controlId: one });
    await raw.close();
    const [stored] = await stack.db.query<{ content: string }>('SELECT content FROM inbound_messages WHERE control_id = $1', [one]);
    expect(stored?.content).toContain('Müller^Renée');
  });

  it('A08 updates the Patient in the EHR (name, birth date, gender only)', async () => {
    const mrn = `MRN-${Date.now()}-b`;
    const { patientId } = await patientWithCourse(mrn);
    await stack.drained();
    // The hospital's own data on its Patient (here a phone number) must survive the update.
    const before = ((await ehrAll(stack.sandbox.url, 'Patient')) as Patient[]).find((x) =>
      x.identifier?.some((i) => i.value === mrn),
    ) as Patient;
    const put = await fetch(`${stack.sandbox.url}/Patient/${before.id}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify({ ...before, telecom: [{ system: 'phone', value: '+1-555-0100' }] }),
    });
    expect(put.status).toBe(200);
    expect((await send(adt('A08', mrn, { pid5: 'Renamed^Ada^M^^Dr^^L', pid7: '19480212', pid8: 'F' }))).code).toBe('AA');
    await until(
      async () => {
        const ehrPatients = (await ehrAll(stack.sandbox.url, 'Patient')) as Patient[];
        const p = ehrPatients.find((x) => x.identifier?.some((i) => i.system === SYSTEM && i.value === mrn));
        return p?.name?.[0]?.family === 'Renamed' && p.birthDate === '1948-02-12' && p.telecom?.[0]?.value === '+1-555-0100';
      },
      30_000,
      'EHR Patient renamed, its telecom kept',
    );
    const local = (await request(stack.app).get(`/fhir/R4/Patient/${patientId}`).expect(200)).body as Patient;
    expect(local.name).toEqual([{ use: 'official', family: 'Renamed', given: ['Ada', 'M'], prefix: ['Dr'] }]);
  });

  it('A40 merges: later messages and API calls with the old identifier reach the surviving patient', async () => {
    const newMrn = `MRN-${Date.now()}-new`;
    const oldMrn = `MRN-${Date.now()}-old`;
    const survivor = await patientWithCourse(newMrn);
    const old = await request(stack.app)
      .post('/v1/screenings')
      .send(screeningRequest({ patient: { system: SYSTEM, value: oldMrn } }))
      .expect(201);
    const oldPatientId = (old.body.resources.entry as Array<{ resource: { resourceType: string; id: string } }>).find(
      (e) => e.resource.resourceType === 'Patient',
    )?.resource.id;
    expect(oldPatientId).not.toBe(survivor.patientId);

    const merge = `MSH|^~\\&|EPIC|GENHOSP|KAP|PALL|20260301||ADT^A40^ADT_A39|${controlId()}|P|2.4\rEVN|A40|20260301\rPID|1||${newMrn}^^^HOSP^MR||Synthetic^Test\rMRG|${oldMrn}^^^HOSP^MR\r`;
    expect((await send(merge)).code).toBe('AA');
    await until(
      async () => (await count('SELECT count(*)::int AS n FROM patient_links WHERE merged_id = $1', [oldPatientId])) === 1,
      20_000,
      'merge applied',
    );

    // A death reported under the old identifier stops the survivor's course.
    expect(
      (await send(adt('A08', oldMrn, { pv1: pv1(''), pid5: 'Synthetic^Test' }).replace(/\rPID\|([^\r]*)/, (m) => `${m}${'|'.repeat(22)}Y`)))
        .code,
    ).toBe('AA');
    await until(async () => (await courseState(survivor.courseId)).stoppedReason === 'deceased', 30_000, 'survivor course stopped');

    // The API finds the survivor by the old identifier too.
    const again = await request(stack.app)
      .post('/v1/screenings')
      .send(screeningRequest({ patient: { system: SYSTEM, value: oldMrn } }))
      .expect(201);
    const patientOfAgain = (again.body.resources.entry as Array<{ resource: { resourceType: string; id: string } }>).find(
      (e) => e.resource.resourceType === 'Patient',
    )?.resource.id;
    expect(patientOfAgain).toBe(survivor.patientId);
  });
});
