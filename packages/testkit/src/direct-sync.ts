/**
 * The baseline the sync benchmarks hold the adapter to: each patient's unsynced resources,
 * read from the database before the clock, posted straight to the EHR with the worker's own
 * write plan (the EHR's write strategy, groupWrites, planSync, the worker's sendGroup),
 * `concurrency` patients at a time, with no outbox, queue, lease or sync state in between.
 * What the adapter costs beyond this is its machinery's; what both pay is the EHR's.
 */
import { DEFAULT_TENANT_ID } from '@kap/config';
import {
  capabilityCache,
  decideWriteStrategy,
  groupWrites,
  isEhrError,
  planSync,
  type EhrClient,
  type KnownEhrCopy,
  type LocalResource,
  type EhrWriteSettings,
  type WriteStrategy,
} from '@kap/ehr-client';
import { forTenant, listPatientResources, listUnsynced, type DeploymentDb } from '@kap/store';
import type { Resource } from '@medplum/fhirtypes';
import { keptBackReferences, localReferences, profileClaims, sendGroup, syncIdentityOf } from '@kap/worker';
import { pool } from './bodies';
import { sleep } from './poll';

const refOf = (r: Resource): string => `${r.resourceType}/${r.id ?? ''}`;

export interface DirectSyncResult {
  readonly resources: number;
  readonly seconds: number;
  readonly refused: string[];
  /** Bundles sent again after a 409 (a serialisation conflict on the EHR's side). */
  readonly conflictRetries: number;
}

/** Every patient with stored resources, in id order. */
export async function patientIds(db: DeploymentDb): Promise<string[]> {
  const rows = await db.query<{ patient_id: string }>(
    'SELECT DISTINCT patient_id FROM resources WHERE patient_id IS NOT NULL ORDER BY patient_id',
  );
  return rows.map((r) => r.patient_id);
}

/** One patient's resources planned and sent as the worker's first pass plans them, with what the EHR answered kept in memory. */
async function sendDirect(
  ehr: EhrClient,
  conflicts: { retries: number },
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
    const sent = await sendWithRetry(conflicts, () => sendGroup(ehr, strategy, plan, counter));
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

/**
 * A 409 from a transaction the EHR serialises against others (Medplum: "could not serialize
 * access") wrote nothing, so the same request goes again, as the worker's job retry sends it.
 */
async function sendWithRetry<T>(conflicts: { retries: number }, send: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      if (!isEhrError(err) || err.kind !== 'conflict' || attempt >= 12) throw err;
      conflicts.retries++;
      // Backoff with jitter, as the worker's job retries spread: lockstep retries collide again.
      await sleep(Math.random() * Math.min(2000, 50 * 2 ** attempt));
    }
  }
}

/** Posts every patient's unsynced resources of the default tenant in `db` to `ehr`, timed from the first request. */
export async function directSync(o: {
  readonly db: DeploymentDb;
  readonly ehr: EhrClient;
  readonly settings: EhrWriteSettings;
  readonly concurrency: number;
}): Promise<DirectSyncResult> {
  // Read before the clock: the EHR's CapabilityStatement and each patient's rows.
  const strategy = decideWriteStrategy(await capabilityCache(o.ehr, o.settings.capabilitiesRefreshMs).get(), o.settings);
  const claims = profileClaims(o.ehr, o.settings.unclaimedProfiles);
  const db = forTenant(o.db, DEFAULT_TENANT_ID);
  const work = await Promise.all(
    (await patientIds(o.db)).map(async (patientId) => {
      const unsynced = await listUnsynced(db, patientId);
      const sendable = unsynced
        .filter((u) => !strategy.forType(u.type).keptBack)
        .map((u) => ({ resource: u.resource, version: u.version, createOnly: u.resource.resourceType === 'Patient' }));
      return { sendable, all: await listPatientResources(db, patientId) };
    }),
  );
  const refused: string[] = [];
  const conflicts = { retries: 0 };
  let resources = 0;
  const t0 = performance.now();
  await pool(work, o.concurrency, async (w) => {
    const r = await sendDirect(o.ehr, conflicts, strategy, claims, w.sendable, w.all);
    resources += r.written;
    refused.push(...r.refused);
  });
  return { resources, seconds: (performance.now() - t0) / 1000, refused, conflictRetries: conflicts.retries };
}
