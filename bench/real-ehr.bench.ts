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
import { DEFAULT_TENANT_ID } from '@kap/config';
import {
  capabilityCache,
  decideWriteStrategy,
  groupWrites,
  isEhrError,
  planSync,
  writeSettingsFrom,
  type KnownEhrCopy,
  type LocalResource,
  type WriteStrategy,
} from '@kap/ehr-client';
import { forTenant, listPatientResources, listUnsynced, type DeploymentDb } from '@kap/store';
import type { Resource, ResourceType } from '@medplum/fhirtypes';
import { localReferences } from '@kap/worker';
import { syncIdentityOf } from '@kap/worker';
import { profileClaims } from '@kap/worker';
import { keptBackReferences, sendGroup } from '@kap/worker';
import { realEhrConnections } from '@kap/testkit/real-ehr-environment';
import type { Stack } from '@kap/testkit/stack';
import { pool } from '@kap/testkit/bodies';
import { RUNS, figure, note, spread } from './lib/report';
import { sleep, until } from '@kap/testkit/poll';
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

async function patientIds(db: DeploymentDb): Promise<string[]> {
  const rows = await db.query<{ patient_id: string }>(
    'SELECT DISTINCT patient_id FROM resources WHERE patient_id IS NOT NULL ORDER BY patient_id',
  );
  return rows.map((r) => r.patient_id);
}

/** One patient's resources planned and sent as the worker's first pass plans them, with what the EHR answered kept in memory. */
async function sendDirect(
  stack: Stack,
  strategy: WriteStrategy,
  claims: ReturnType<typeof profileClaims>,
  sendable: LocalResource[],
  all: Resource[],
): Promise<{ written: number; refused: string[] }> {
  const identity = (r: Resource) => syncIdentityOf(r, strategy.forType(r.resourceType));
  const keptBack = keptBackReferences(all, strategy);
  const known = new Map<string, KnownEhrCopy>();
  const byRef = new Map(sendable.map((r) => [refOf(r.resource), r]));
  const items = sendable.map((r) => ({
    key: refOf(r.resource),
    dependsOn: localReferences(r.resource).filter((ref) => byRef.has(ref)),
    alone: identity(r.resource).by === 'none',
  }));
  const groups = groupWrites(items, { mode: strategy.mode, maxEntries: strategy.maxEntries });
  const counter = { requests: 0, claims, claimTrials: new Map<string, string>() };
  const refused: string[] = [];
  let written = 0;
  const stubbed = new Set<string>();
  // A refused Bundle goes again one by one, as the worker does (each single write may learn a profile claim to leave out).
  const queue: Array<{ keys: readonly string[]; stubs?: ReadonlyMap<string, ReadonlySet<string>> }> = groups.map((g) => ({
    keys: g.keys,
    stubs: g.stubs,
  }));
  let last = false;
  for (let group = queue.shift(); group; group = queue.shift()) {
    const resources = group.keys.map((k) => byRef.get(k) as LocalResource);
    const plan = planSync({
      resources,
      syncIdentityOf: identity,
      existing: new Map(),
      knownEhrCopies: known,
      bundleType: strategy.mode === 'batch' ? 'batch' : 'transaction',
      keptBack,
      ...(group.stubs ? { stubs: group.stubs as Map<string, Set<string>> } : {}),
    });
    const sent = await sendWithRetry(() => sendGroup(stack.ehr, strategy, plan, counter));
    if ('bundleRefused' in sent || sent.retrySingly.length > 0) {
      if (!('bundleRefused' in sent))
        for (const r of sent.results)
          if ('ok' in r) known.set(r.localReference, { reference: r.ok.ehrReference, version: r.ok.ehrVersion });
      const stubs = group.stubs;
      queue.unshift(...group.keys.map((k) => ({ keys: [k], stubs: new Map([...(stubs ?? [])].filter(([s]) => s === k)) })));
      continue;
    }
    for (const r of sent.results) {
      if ('ok' in r) {
        known.set(r.localReference, { reference: r.ok.ehrReference, version: r.ok.ehrVersion });
        if (!last) written++;
      } else refused.push(`${r.localReference}: ${r.refused}`);
    }
    for (const k of group.stubs?.keys() ?? []) stubbed.add(k);
    // What went first without a reference on a cycle goes again, whole, as the worker's next pass sends it.
    if (queue.length === 0 && stubbed.size > 0 && !last) {
      last = true;
      queue.push({ keys: [...stubbed] });
    }
  }
  return { written, refused };
}

let conflictRetries = 0;

/**
 * A 409 from a transaction the EHR serialises against others (Medplum: "could not serialize
 * access") wrote nothing, so the same request goes again, as the worker's job retry sends it.
 */
async function sendWithRetry<T>(send: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      if (!isEhrError(err) || err.kind !== 'conflict' || attempt >= 12) throw err;
      conflictRetries++;
      // Backoff with jitter, as the worker's job retries spread: lockstep retries collide again.
      await sleep(Math.random() * Math.min(2000, 50 * 2 ** attempt));
    }
  }
}

async function direct(stack: Stack): Promise<{ resources: number; seconds: number; refused: string[] }> {
  const settings = writeSettingsFrom(stack.config);
  // Read before the clock: the EHR's CapabilityStatement and each patient's rows.
  const strategy = decideWriteStrategy(await capabilityCache(stack.ehr, settings.capabilitiesRefreshMs).get(), settings);
  const claims = profileClaims(stack.ehr, settings.unclaimedProfiles);
  const db = forTenant(stack.db, DEFAULT_TENANT_ID);
  const work = await Promise.all(
    (await patientIds(stack.db)).map(async (patientId) => {
      const unsynced = await listUnsynced(db, patientId);
      const sendable = unsynced
        .filter((u) => !strategy.forType(u.type).keptBack)
        .map((u) => ({ resource: u.resource, version: u.version, createOnly: u.resource.resourceType === 'Patient' }));
      return { sendable, all: await listPatientResources(db, patientId) };
    }),
  );
  const refused: string[] = [];
  let resources = 0;
  const t0 = performance.now();
  await pool(work, stack.config.SYNC_CONCURRENCY, async (w) => {
    const r = await sendDirect(stack, strategy, claims, w.sendable, w.all);
    resources += r.written;
    refused.push(...r.refused);
  });
  return { resources, seconds: (performance.now() - t0) / 1000, refused };
}

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
      const r = await direct(stack);
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
