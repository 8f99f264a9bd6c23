/**
 * 8. Real EHR: `npm run bench -- real-ehr`, where a real FHIR server is configured in the
 * shape `npm run test:real-ehr` reads (EHR_FHIR_BASE_URL, EHR_TOKEN_URL, EHR_CLIENT_ID,
 * EHR_CLIENT_SECRET; packages/testkit/src/real-ehr-environment.ts). Skipped, exit 0, with one line otherwise.
 *
 * Per run, two fresh stacks on that EHR, each ingesting N enrolments (screening, course,
 * dosing session) with no worker running:
 * - adapter: the worker starts (ehr-sync paused until it is up and the course notes are
 *   rendered, which is not sync); the clock runs from the queue's resumption to a drained
 *   outbox (looked at every 10 ms): outbox, relay, queue, leases, sync state and all;
 * - direct: the same kind of resources (each patient's, read from the database before the
 *   clock starts) posted with the same write plan (the EHR's write strategy, groupWrites,
 *   planSync, the worker's sendGroup), SYNC_CONCURRENCY patients at a time, with no database
 *   or queue in between; the course notes rendered first, untimed, as on the adapter's side.
 * `real_ehr.ratio_vs_direct` = adapter resources/s ÷ direct resources/s, min/median/max over
 * RUNS runs (goal ≥ 0.8 at the worst run). Afterwards every resource of both stacks is looked
 * up on the EHR by its identity: none lost, none duplicated.
 * Time per run: 2 × (N enrolments ingested + N patients synced) + 2 × N × ~25 identity searches.
 */
import { writeSettingsFrom } from '@kap/ehr-client';
import type { Resource, ResourceType } from '@medplum/fhirtypes';
import { syncIdentityOf } from '@kap/worker';
import { directSync } from '@kap/testkit/direct-sync';
import { realEhrConnections } from '@kap/testkit/real-ehr-environment';
import type { Stack } from '@kap/testkit/stack';
import { pool } from '@kap/testkit/bodies';
import { RUNS, figure, note, spread } from './lib/report';
import { until } from '@kap/testkit/poll';
import { drainedNow, enrol, run, settledBesideSync, withStack } from '@kap/testkit/stack-bench';

const N = Number(process.env.BENCH_REAL_EHR_COURSES ?? 10);
/** Production-like job timing: a real EHR answers a transaction in hundreds of ms. */
const ENV = {
  FOLLOW_UP_OFFSETS: 'PT1H,PT2H,PT3H',
  FOLLOW_UP_REMINDER_LEAD: 'PT10M',
  JOB_LOCK_MS: '30000',
  SYNC_LEASE_MS: '120000',
  EHR_TIMEOUT_MS: '20000',
  REDISPATCH_AFTER_MS: '30000',
};

const refOf = (r: Resource): string => `${r.resourceType}/${r.id ?? ''}`;

/** Each local resource (what the direct run wrote, or the adapter synced) searched on the EHR by its identity. */
async function lookUp(stack: Stack): Promise<{ lost: string[]; duplicated: string[]; resources: number }> {
  const rows = await stack.db.query<{ content: Resource }>(
    'SELECT content FROM resources WHERE patient_id IS NOT NULL ORDER BY resource_type, id',
  );
  const lost: string[] = [];
  const duplicated: string[] = [];
  await pool(rows, 4, async ({ content }) => {
    const id = syncIdentityOf(content);
    const params: Record<string, string> | undefined =
      id.by === 'identifier'
        ? { identifier: `${id.system}|${id.value}` }
        : id.by === 'tag'
          ? { _tag: `${id.system}|${id.code}` }
          : undefined;
    if (!params) {
      lost.push(`${refOf(content)}: no identity to find it by`);
      return;
    }
    const copies = await stack.ehr.searchAll(content.resourceType as ResourceType, params);
    if (copies.length === 0) lost.push(refOf(content));
    if (copies.length > 1) duplicated.push(`${refOf(content)} ×${copies.length}`);
  });
  return { lost, duplicated, resources: rows.length };
}

let conflictRetries = 0;

async function main(): Promise<void> {
  const [connection] = realEhrConnections();
  if (!connection) {
    note(
      'real-ehr: skipped: no real EHR configured (EHR_FHIR_BASE_URL, EHR_TOKEN_URL, EHR_CLIENT_ID, EHR_CLIENT_SECRET, as for npm run test:real-ehr)',
    );
    return;
  }
  const env = { ...ENV, ...connection.env };
  note(
    `real-ehr: ${connection.env.EHR_BASE_URL} (${connection.name}); ${N} enrolments per side per run, ${RUNS} runs; adapter = outbox → queue → worker, direct = the same write plan posted with no database or queue`,
  );
  const ratios: number[] = [];
  let lost = 0;
  let duplicated = 0;
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const d = await withStack(env, async (stack, url) => {
      await enrol(url, N);
      // The course notes are rendered as on the adapter's side (a worker with the ehr-sync
      // queue paused), so that both sides send the same resources, each patient's note among them.
      await stack.queues.ehrSync.pause();
      stack.startWorker(`bench-real-ehr-notes-${i}`);
      await settledBesideSync(stack);
      await stack.stopWorkers();
      const r = await directSync({
        db: stack.db,
        ehr: stack.ehr,
        settings: writeSettingsFrom(stack.config),
        concurrency: stack.config.SYNC_CONCURRENCY,
      });
      conflictRetries += r.conflictRetries;
      if (r.refused.length > 0) note(`direct run ${i + 1}: refused ${JSON.stringify(r.refused.slice(0, 3))}`);
      const audit = await lookUp(stack);
      lost += audit.lost.length;
      duplicated += audit.duplicated.length;
      if (audit.lost.length + audit.duplicated.length > 0)
        note(
          `direct run ${i + 1}: lost ${JSON.stringify(audit.lost.slice(0, 5))} duplicated ${JSON.stringify(audit.duplicated.slice(0, 5))}`,
        );
      return r;
    });
    const a = await withStack(env, async (stack, url) => {
      await enrol(url, N);
      await stack.queues.ehrSync.pause();
      stack.startWorker(`bench-real-ehr-${i}`);
      await until(async () => (await stack.queues.ehrSync.getWorkers()).length > 0, 30_000, 'the worker');
      // Course notes rendered before the clock: that is not sync, and the direct side does it untimed too.
      await settledBesideSync(stack);
      const t0 = performance.now();
      await stack.queues.ehrSync.resume();
      await drainedNow(stack, 300_000);
      const seconds = (performance.now() - t0) / 1000;
      const audit = await lookUp(stack);
      lost += audit.lost.length;
      duplicated += audit.duplicated.length;
      if (audit.lost.length + audit.duplicated.length > 0)
        note(
          `adapter run ${i + 1}: lost ${JSON.stringify(audit.lost.slice(0, 5))} duplicated ${JSON.stringify(audit.duplicated.slice(0, 5))}`,
        );
      return { resources: audit.resources, seconds };
    });
    const ratio = a.resources / a.seconds / (d.resources / d.seconds);
    ratios.push(ratio);
    note(
      `run ${i + 1}: adapter ${a.resources} resources in ${a.seconds.toFixed(2)} s, direct ${d.resources} in ${d.seconds.toFixed(2)} s, ratio ${ratio.toFixed(3)} (run took ${((performance.now() - started) / 1000).toFixed(0)} s)`,
    );
  }
  spread('real_ehr.ratio_vs_direct', ratios, 'x', { kind: 'min', value: 0.8 });
  figure('real_ehr.lost', lost, 'resources');
  note(`direct: ${conflictRetries} Bundles sent again after a 409 serialisation conflict`);
  figure('real_ehr.duplicated', duplicated, 'resources');
}

run(main);
