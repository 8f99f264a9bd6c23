/**
 * `npm run test:real-ehr`: the whole product against a real FHIR server, with the README's
 * settings only (no EHR_SCOPE: the adapter's own least-privilege scopes). For each
 * connection the environment names (client credentials, SMART Backend Services): a
 * demo-like course, the same request replayed, everything synced again with no memory of
 * the EHR's ids, an A08 name change over MLLP, a reconcile, and `ehr:check --write-test`.
 * It ends by reading every accepted resource back from the EHR by its identity: each is
 * there exactly once, as the adapter holds it, blood-pressure panels included, and
 * nothing is pending, failed or dead. The counts it read back are printed.
 */
import { sameContent, type EhrClient } from '@kap/ehr-client';
import { enqueueWork, WORK } from '@kap/queue';
import { forTenant } from '@kap/store';
import { Hl7Message } from '@medplum/core';
import { Hl7Client } from '@medplum/hl7';
import type { Patient, Resource, ResourceType } from '@medplum/fhirtypes';
import request from 'supertest';
import { until } from '@kap/testkit/poll';
import type { RunningMllpListener } from '@kap/mllp';
import { startStackMllp } from '@kap/testkit/mllp-listener';
import { runEhrCheck } from '@kap/worker';
import { syncIdentityOf } from '@kap/worker';
import { runCourseScenario } from '@kap/testkit/course-scenario';
import { startStack, type Stack } from '@kap/testkit/stack';
import { realEhrConnections, type RealEhrConnection } from '@kap/testkit/real-ehr-environment';

jest.setTimeout(600_000);

const SYSTEM = 'urn:oid:2.16.840.1.113883.19.5.99999.1';
const BP_PANEL = '85354-9';
const connections = realEhrConnections();
const report = (line: string): void => void process.stdout.write(`${line}\n`);

if (connections.length === 0) {
  it('has no real EHR to test against', () => {
    report('test:real-ehr: no EHR configured (EHR_FHIR_BASE_URL, EHR_TOKEN_URL and client credentials or EHR_SMART_*): nothing ran');
  });
}

describe.each(connections.map((c) => [c.name, c] as const))(
  'a whole course on a real EHR with %s',
  (name: string, connection: RealEhrConnection) => {
    let stack: Stack;
    let mllp: RunningMllpListener;
    const mrn = `SYN-REAL-${Date.now().toString(36)}-${name}`;

    beforeAll(async () => {
      stack = await startStack({
        ...connection.env,
        EHR_TIMEOUT_MS: '20000',
        HL7_ASSIGNING_AUTHORITIES: `HOSP=${SYSTEM}`,
        FOLLOW_UP_OFFSETS: 'PT2S,PT4S,PT6S',
      });
      stack.startWorker();
      mllp = await startStackMllp(stack);
    });
    afterAll(async () => {
      await mllp?.close();
      await stack?.close();
    });

    it('takes the course, a replay, an A08 and a reconcile, and holds each accepted resource once', async () => {
      const app = stack.app;
      report(`\n== ${name}: ${connection.env.EHR_BASE_URL}`);
      const scenario = await runCourseScenario(app, {
        patient: { system: SYSTEM, value: mrn, name: { family: 'Synthetic', given: ['Real'] }, birthDate: '1947-05-03', gender: 'female' },
      });
      // Follow-ups of session 2 fall due and are cancelled by the stop; wait for the sync.
      await stack.drained(240_000);
      await expectNothingOpen(stack);
      const grant = stack.ehr.tokenGrant();
      report(`token scopes asked:   ${grant?.asked ?? '(none)'}`);
      report(`token scopes granted: ${grant?.granted ?? '(none)'}`);

      // The same request again, under the same Idempotency-Key: the first answer, nothing new.
      const key = `real-ehr-replay-${mrn}`;
      const replayBody = { completedAt: new Date().toISOString(), note: 'Replayed' };
      const course = (await request(app).get(`/v1/courses/${scenario.courseId}`).expect(200)).body;
      const open = course.followUps.find((f: { status: string }) => f.status === 'completed');
      const first = await request(app).post(`/v1/follow-ups/${open.id}/complete`).set('Idempotency-Key', key).send(replayBody);
      const again = await request(app).post(`/v1/follow-ups/${open.id}/complete`).set('Idempotency-Key', key).send(replayBody);
      expect(again.status).toBe(first.status);
      expect(again.body).toEqual(first.body);

      // Everything sent again with no memory of the EHR's ids (as after restoring an old
      // backup): each resource must be found by its identity, never created a second time.
      const replayed = await resyncEverything(stack);
      await stack.drained(240_000);
      await expectNothingOpen(stack);
      report(`replay: ${replayed} resources sent again with their EHR ids forgotten`);

      // The hospital renames the patient (ADT A08 over MLLP): the EHR's Patient follows.
      const client = new Hl7Client({ host: '127.0.0.1', port: mllp.port });
      try {
        const a08 = `MSH|^~\\&|EPIC|GENHOSP|KAP|PALL|20260301120000||ADT^A08^ADT_A01|A08-${mrn}|P|2.5.1\rEVN|A08|20260301120000\rPID|1||${mrn}^^^HOSP^MR||Renamed^Real||19470503|F\rPV1|1|I`;
        const ack = await client.sendAndWait(Hl7Message.parse(a08));
        expect(ack.getSegment('MSA')?.getField(1)?.toString()).toBe('AA');
      } finally {
        await client.close();
      }
      await until(async () => (await ehrPatient(stack.ehr, mrn))?.name?.[0]?.family === 'Renamed', 60_000, 'the EHR Patient renamed', 500);
      await stack.drained(120_000);

      const reconciled = await reconcile(stack);
      expect(reconciled.summary).toMatchObject({ missing: 0, different: 0 });
      report(
        `reconcile: ${reconciled.summary.inEhr} in the EHR, ${reconciled.summary.missing} missing, ${reconciled.summary.different} different`,
      );

      const audit = await auditRealEhr(stack);
      report(`resources read back from the EHR by identity (type: adapter / EHR copies):`);
      for (const [type, counts] of Object.entries(audit.byType).sort()) report(`  ${type.padEnd(26)} ${counts.local} / ${counts.ehr}`);
      report(`  blood-pressure panels (LOINC ${BP_PANEL}): ${audit.bpPanels.local} / ${audit.bpPanels.ehr}`);
      report(`  duplicates: ${audit.duplicates.length}, missing: ${audit.missing.length}, different: ${audit.different.length}`);
      for (const note of audit.notes) report(`  note: ${note}`);
      expect(audit.duplicates).toEqual([]);
      expect(audit.missing).toEqual([]);
      expect(audit.different).toEqual([]);
      expect(audit.bpPanels.ehr).toBe(audit.bpPanels.local);
      expect(audit.bpPanels.local).toBeGreaterThanOrEqual(8);

      const status = (await request(app).get('/v1/admin/sync-status').expect(200)).body.tenants[0];
      report(`sync-status: pending ${status.pending}, synced ${status.synced}, dead ${status.dead}`);
      expect(status).toMatchObject({ pending: 0, dead: 0 });
    });

    it('passes ehr:check --write-test with the same settings', async () => {
      const lines: string[] = [];
      const code = await runEhrCheck(stack.config, { writeTest: true, out: (line) => lines.push(line) });
      report(`\nehr:check --write-test (${name}), exit ${code}:`);
      for (const line of lines) report(`  ${line}`);
      expect(code).toBe(0);
      expect(lines.join('\n')).not.toMatch(/FAIL/);
    });
  },
);

/** Nothing pending, failed or dead: every resource synced (this EHR takes every type), no dead letter. */
async function expectNothingOpen(stack: Stack): Promise<void> {
  const states = await stack.db.query<{ status: string; n: number; last_error: string | null }>(
    `SELECT COALESCE(s.status, 'pending') AS status, count(*)::int AS n, max(s.last_error) AS last_error
       FROM resources r LEFT JOIN sync_state s ON s.resource_type = r.resource_type AND s.id = r.id
      WHERE r.patient_id IS NOT NULL GROUP BY 1`,
  );
  const notSynced = states.filter((s) => s.status !== 'synced');
  expect(notSynced).toEqual([]);
  const dead = await request(stack.app).get('/v1/admin/dead-letters').expect(200);
  expect(dead.body.deadLetters).toEqual([]);
}

/** Forgets every EHR id and synced version, and asks for each patient's sync again. */
async function resyncEverything(stack: Stack): Promise<number> {
  const db = forTenant(stack.db, 'default');
  return db.transaction(async (tx) => {
    const reset = await tx.query<{ id: string }>(
      "UPDATE sync_state SET ehr_id = NULL, ehr_version = NULL, synced_version = NULL, status = 'pending', sent_note = NULL RETURNING id",
    );
    const patients = await tx.query<{ patient_id: string }>('SELECT DISTINCT patient_id FROM resources WHERE patient_id IS NOT NULL');
    for (const p of patients)
      await enqueueWork(tx, WORK.ehrSync, { patientId: p.patient_id, reason: 'test: replay' }, { patientId: p.patient_id });
    return reset.length;
  });
}

async function ehrPatient(ehr: EhrClient, mrn: string): Promise<Patient | undefined> {
  const found = await ehr.searchAll('Patient', { identifier: `${SYSTEM}|${mrn}` });
  return found[0];
}

async function reconcile(stack: Stack): Promise<{ summary: { inEhr: number; missing: number; different: number } }> {
  const started = await request(stack.app).post('/v1/admin/reconcile').send({}).expect(202);
  let report: request.Response | undefined;
  await until(
    async () => {
      report = await request(stack.app).get(`/v1/admin/reconcile/${started.body.reconciliationId}`).expect(200);
      return report.body.status !== 'running';
    },
    240_000,
    'the reconciliation',
    500,
  );
  expect(report?.body.status).toBe('finished');
  return report?.body;
}

interface RealEhrAudit {
  readonly byType: Record<string, { local: number; ehr: number }>;
  readonly bpPanels: { local: number; ehr: number };
  readonly duplicates: string[];
  readonly missing: string[];
  readonly different: string[];
  /** How resources were sent when not exactly as stored. */
  readonly notes: string[];
}

/**
 * Every resource this run's adapter holds, looked up on the EHR by the identity the
 * adapter writes it under (its identifier, or its tag): exactly one copy each, with the
 * same content as the adapter's latest version.
 */
async function auditRealEhr(stack: Stack): Promise<RealEhrAudit> {
  const rows = await stack.db.query<{ content: Resource; sent_note: string | null }>(
    `SELECT r.content, s.sent_note FROM resources r LEFT JOIN sync_state s ON s.resource_type = r.resource_type AND s.id = r.id
      WHERE r.patient_id IS NOT NULL ORDER BY r.resource_type, r.id`,
  );
  const audit: RealEhrAudit = { byType: {}, bpPanels: { local: 0, ehr: 0 }, duplicates: [], missing: [], different: [], notes: [] };
  for (const { content: local, sent_note: note } of rows) {
    const ref = `${local.resourceType}/${local.id}`;
    const counts = (audit.byType[local.resourceType] ??= { local: 0, ehr: 0 });
    counts.local++;
    const identity = syncIdentityOf(local);
    const params: Record<string, string> | undefined =
      identity.by === 'identifier'
        ? { identifier: `${identity.system}|${identity.value}` }
        : identity.by === 'tag'
          ? { _tag: `${identity.system}|${identity.code}` }
          : undefined;
    if (!params) throw new Error(`${ref} has no identity to find it by`);
    const copies = await stack.ehr.searchAll(local.resourceType as ResourceType, params);
    counts.ehr += copies.length;
    const isBp = local.resourceType === 'Observation' && local.code.coding?.some((c) => c.code === BP_PANEL);
    if (isBp) {
      audit.bpPanels.local++;
      audit.bpPanels.ehr += copies.length;
    }
    if (copies.length === 0) audit.missing.push(ref);
    if (copies.length > 1) audit.duplicates.push(`${ref} (${copies.length} copies)`);
    // The EHR's Patient is the hospital's: the adapter sends it once and never overwrites it.
    if (
      copies.length === 1 &&
      local.resourceType !== 'Patient' &&
      !sameContent(withoutReferences(local), withoutReferences(copies[0] as Resource))
    ) {
      audit.different.push(ref);
    }
    if (note) audit.notes.push(`${ref}: ${note}`);
  }
  return audit;
}

/**
 * The adapter's references point at its own ids and the EHR's at the EHR's; the identity
 * match already tied the copy to this resource, so the rest of the content is compared.
 */
function withoutReferences(resource: Resource): Resource {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) if (k !== 'reference') out[k] = strip(v);
      return out;
    }
    return value;
  };
  return strip(resource) as Resource;
}
