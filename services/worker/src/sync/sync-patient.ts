import {
  capabilityCache,
  decideWriteStrategy,
  DEFAULT_WRITE_SETTINGS,
  EhrError,
  entryResult,
  entryResults,
  groupWrites,
  copyKey,
  isEhrError,
  planSync,
  type EhrClient,
  type EhrCopy,
  type EhrWriteSettings,
  type EntryResult,
  type KnownEhrCopy,
  type LocalResource,
  type PlannedResource,
  type SyncPlan,
  type WriteStrategy,
} from '@kap/ehr-client';
import { RESOURCE_IDENTIFIER_SYSTEM } from '@kap/fhir';
import {
  forgetEhrCopy,
  getSyncStates,
  listPatientResources,
  listUnsynced,
  markFailed,
  markNotSent,
  markSyncedMany,
  recordEhrCopy,
  type Db,
  type MarkSynced,
} from '@kap/store';
import type { Identifier, Resource } from '@medplum/fhirtypes';
import { identityOf, syncIdentifier } from './identity';
import { localReferences, readEhrCopies } from './ehr-copies';
import { droppedNote, profileClaims, withoutClaims, type ProfileClaims } from './profile-claims';

export interface SyncOutcome {
  /** Resources written to the EHR in this run. */
  readonly written: number;
  /** Resources the EHR already held as they are here. */
  readonly unchanged: number;
  /** Resources of types this EHR does not take, kept here as `not-sent`. */
  readonly notSent?: number;
  /** Requests sent (Bundles or single writes). */
  readonly requests?: number;
}

export interface SyncOptions {
  /** The `EHR_*` write settings; default {@link DEFAULT_WRITE_SETTINGS}. */
  readonly settings?: EhrWriteSettings;
}

/** How many times a 409/412 is answered by re-reading the EHR and planning again within one job. */
const CONFLICT_REPLANS = 3;

/**
 * Brings the EHR up to date with every unsynced resource of one patient, in requests the
 * EHR accepts: read from its CapabilityStatement (cached per client) and the settings.
 *
 * Resources go in dependency order, grouped into transactions (or batches) of at most
 * `EHR_MAX_TRANSACTION_ENTRIES`, or one by one. Each request's result is recorded in the
 * sync state before the next is sent, so a later request references what earlier ones
 * wrote by the EHR's ids, and a worker killed between two requests resumes where it was.
 * Creates are conditional on the identity the EHR can search for the type; what was
 * synced before is updated under If-Match of the version written then. A 409 or 412 makes
 * it read the EHR first and plan from what is there, leaving out what already matches.
 *
 * A resource the EHR refuses is recorded `failed` with the EHR's reason, and so is what
 * needs it; the rest still goes. The run then ends with a `rejected` EhrError naming each
 * refused resource, for the dead letter. The caller holds the patient's lease.
 */
export async function syncPatient(db: Db, ehr: EhrClient, patientId: string, options: SyncOptions = {}): Promise<SyncOutcome> {
  const settings = options.settings ?? DEFAULT_WRITE_SETTINGS;
  const capabilities = capabilityCache(ehr, settings.capabilitiesRefreshMs);
  const strategy = decideWriteStrategy(await capabilities.get(), settings);
  const claims = profileClaims(ehr, settings.unclaimedProfiles);
  for (let attempt = 1; ; attempt++) {
    const run: Run = { written: 0, unchanged: 0, notSent: 0, requests: 0, refused: new Map(), claims };
    try {
      await syncPass(db, ehr, strategy, patientId, run, attempt > 1, 0);
    } catch (err) {
      const conflict = isEhrError(err) && (err.kind === 'precondition-failed' || err.kind === 'conflict');
      if (!conflict || attempt >= CONFLICT_REPLANS) throw err;
      continue;
    }
    if (run.refused.size > 0) {
      // The EHR may have changed what it takes: read its CapabilityStatement again next time.
      capabilities.invalidate();
      const list = [...run.refused].map(([ref, why]) => `${ref}: ${why}`);
      throw new EhrError('rejected', `EHR refused ${run.refused.size} resource(s): ${list.join('; ')}`.slice(0, 4000));
    }
    return { written: run.written, unchanged: run.unchanged, notSent: run.notSent, requests: run.requests };
  }
}

interface Run {
  written: number;
  unchanged: number;
  notSent: number;
  requests: number;
  /** `Type/id` → why the EHR refused it (or what it needed). */
  readonly refused: Map<string, string>;
  readonly claims: ProfileClaims;
}

/** At most this many follow-up passes (stubs completed, matched copies compared) per attempt. */
const MAX_PASSES = 3;

async function syncPass(db: Db, ehr: EhrClient, strategy: WriteStrategy, patientId: string, run: Run, readFirst: boolean, pass: number): Promise<void> {
  const unsynced = (await listUnsynced(db, patientId)).filter((u) => !run.refused.has(`${u.type}/${u.id}`));
  if (unsynced.length === 0) return;

  const keptBackTypes = new Map<string, string>();
  for (const u of unsynced) {
    const why = strategy.forType(u.type).keptBack;
    if (why) keptBackTypes.set(u.type, why);
  }
  const notSent = unsynced.filter((u) => keptBackTypes.has(u.type));
  for (const [type, why] of keptBackTypes) {
    await markNotSent(db, notSent.filter((u) => u.type === type).map((u) => ({ type: u.type, id: u.id, version: u.version })), `EHR does not take ${type}: ${why}`);
  }
  if (pass === 0) run.notSent += notSent.length;

  const sendable: LocalResource[] = unsynced
    .filter((u) => !keptBackTypes.has(u.type))
    .map((u) => ({ resource: u.resource, version: u.version, createOnly: u.resource.resourceType === 'Patient' }));
  if (sendable.length === 0) return;
  const identity = (r: Resource) => identityOf(r, strategy.forType(r.resourceType));
  const patientResources = await listPatientResources(db, patientId);
  const keptBack = keptBackReferences(patientResources, strategy);
  let known = await knownCopies(db, patientResources);
  const existing = readFirst ? await readEhrCopies(ehr, sendable.map((r) => r.resource), identity, known) : new Map<string, EhrCopy>();

  const byRef = new Map(sendable.map((r) => [refOf(r.resource), r]));
  const found = new Set(sendable.filter((r) => existing.has(copyKey(r.resource, identity(r.resource)))).map((r) => refOf(r.resource)));
  const hasEhrCopy = (ref: string): boolean => known.has(ref) || found.has(ref);
  const items = sendable.map((r) => ({
    key: refOf(r.resource),
    // A reference to one the EHR refused earlier in this run blocks it too.
    dependsOn: localReferences(r.resource).filter((ref) => (byRef.has(ref) && !hasEhrCopy(ref)) || run.refused.has(ref)),
    alone: identity(r.resource).by === 'none' && !known.has(refOf(r.resource)),
  }));
  const dependsOn = new Map(items.map((i) => [i.key, i.dependsOn]));
  const groups = groupWrites(items, { mode: strategy.mode, maxEntries: strategy.maxEntries });

  let again = false;
  // Resources whose EHR copy turned out to be gone, and what references them: left to the next pass.
  const deferred = new Set<string>();
  const queue = [...groups];
  for (let group = queue.shift(); group; group = queue.shift()) {
    const keys = group.keys;
    // What the group needs but an earlier request could not write stays out, recorded as such.
    const needs = (k: string): string[] => (dependsOn.get(k) ?? []).filter((d) => !group?.stubs.get(k)?.has(d) && !keys.includes(d));
    const blocked = keys.filter((k) => needs(k).some((d) => run.refused.has(d) || !hasEhrCopy(d)));
    for (const key of blocked) {
      const missing = needs(key).filter((d) => run.refused.has(d) || !hasEhrCopy(d));
      const why = `not sent: it references ${missing.join(', ')}, which the EHR did not take`;
      run.refused.set(key, why);
      await failed(db, byRef.get(key) as LocalResource, why);
    }
    const waiting = keys.filter((k) => !blocked.includes(k) && localReferences((byRef.get(k) as LocalResource).resource).some((d) => deferred.has(d)));
    for (const k of waiting) deferred.add(k);
    const resources = keys.filter((k) => !blocked.includes(k) && !waiting.includes(k)).map((k) => byRef.get(k) as LocalResource);
    if (resources.length === 0) continue;
    const plan = planSync({
      resources,
      identityOf: identity,
      existing,
      knownEhrCopies: known,
      bundleType: strategy.mode === 'batch' ? 'batch' : 'transaction',
      keptBack,
      stubs: group.stubs,
    });
    const sent = await sendGroup(ehr, strategy, plan, run);
    if ('bundleRefused' in sent) {
      // One by one, in the same order, each planned with what the previous ones wrote.
      queue.unshift(...resources.map((r) => ({ keys: [refOf(r.resource)], stubs: new Map([...(group?.stubs ?? [])].filter(([k]) => k === refOf(r.resource))) })));
      continue;
    }
    // An update the EHR answers 404/410 for: its copy is gone there. Forget it and create it again.
    const gone = sent.results.filter(
      (r) => !('ok' in r) && /^(404|410)$/.test(r.status) && plan.resources.find((p) => p.localReference === r.localReference)?.action === 'update',
    );
    for (const r of gone) {
      const [type, id] = r.localReference.split('/') as [string, string];
      await forgetEhrCopy(db, { type, id });
    }
    const goneRefs = new Set(gone.map((r) => r.localReference));
    for (const ref of goneRefs) deferred.add(ref);
    await record(db, plan, sent.results.filter((r) => !goneRefs.has(r.localReference)), byRef, run, dependsOn, sent.notes);
    if (gone.length > 0) again = true;
    if (sent.results.some((r) => 'ok' in r && (r.matchedExisting || r.stub) && !r.localReference.startsWith('Patient/'))) again = true;
    known = await knownCopies(db, patientResources);
  }
  // Stubs are completed and copies a create matched are compared, from a fresh read of the EHR.
  if (again && pass + 1 < MAX_PASSES) await syncPass(db, ehr, strategy, patientId, run, true, pass + 1);
}

/**
 * Sends one group: a Bundle, or single requests. A refused Bundle (a 4xx for the whole of
 * it) comes back as `bundleRefused`: the caller then writes the same resources one by one,
 * planned afresh, so the good ones still go and the EHR's answer names the bad one. What
 * goes out leaves out the profile claims this EHR cannot take; `notes` says so per resource.
 */
export async function sendGroup(
  ehr: EhrClient,
  strategy: WriteStrategy,
  plan: SyncPlan,
  run: { requests: number; readonly claims: ProfileClaims },
): Promise<{ readonly results: EntryResult[]; readonly notes: ReadonlyMap<string, string> } | { readonly bundleRefused: string }> {
  const notes = new Map<string, string>();
  const writes = plan.resources.filter((p) => p.entry);
  if (!plan.bundle || writes.length === 0) return { results: entryResults(plan, undefined), notes };
  if (strategy.mode !== 'single' && writes.length > 1) {
    const entries = [...(plan.bundle.entry ?? [])];
    for (const p of writes) {
      const entry = p.entryIndex === undefined ? undefined : entries[p.entryIndex];
      if (!entry?.resource) continue;
      const out = run.claims.outgoing(entry.resource);
      if (!out.note) continue;
      entries[p.entryIndex as number] = { ...entry, resource: out.resource };
      notes.set(p.localReference, out.note);
    }
    const bundle = { ...plan.bundle, entry: entries };
    try {
      run.requests++;
      const response = strategy.mode === 'batch' ? await ehr.batch(bundle) : await ehr.transaction(bundle);
      return { results: entryResults(plan, response), notes };
    } catch (err) {
      if (refusedHere(err)) return { bundleRefused: err.message };
      throw err;
    }
  }
  const results: EntryResult[] = [];
  for (const p of plan.resources) {
    if (!p.entry) {
      results.push(...entryResults({ resources: [p] }, undefined));
      continue;
    }
    const sent = await sendOne(ehr, p, run);
    if (sent.note) notes.set(p.localReference, sent.note);
    results.push(sent.result);
  }
  return { results, notes };
}

/**
 * One write. A resource refused (400/422) while it claims profiles is sent once more
 * without the claims: taken then, the refusal was the claim's, which is remembered for
 * this EHR and noted on the resource; refused again, the first refusal stands.
 */
async function sendOne(ehr: EhrClient, p: PlannedResource, run: { requests: number; readonly claims: ProfileClaims }): Promise<{ result: EntryResult; note?: string }> {
  const entry = p.entry as NonNullable<PlannedResource['entry']>;
  const { resource, note } = run.claims.outgoing(entry.resource as Resource);
  try {
    run.requests++;
    return { result: await writeOne(ehr, p, resource), ...(note ? { note } : {}) };
  } catch (err) {
    if (!refusedHere(err)) throw err;
    const refused = { localReference: p.localReference, refused: err.message.slice(0, 800), status: String(err.status ?? '') };
    const claimed = run.claims.droppable(resource);
    if (claimed.length === 0 || (err.status !== 400 && err.status !== 422)) return { result: refused };
    try {
      run.requests++;
      const result = await writeOne(ehr, p, withoutClaims(resource, claimed));
      run.claims.learn(claimed, err.message);
      return { result, note: droppedNote(claimed, `the EHR refused it claiming ${claimed.length > 1 ? 'them' : 'it'}: ${err.message}`) };
    } catch (again) {
      if (refusedHere(again)) {
        return { result: { ...refused, refused: `${refused.refused} (refused without its profile claims too: ${again.message})`.slice(0, 1000) } };
      }
      throw again;
    }
  }
}

/**
 * A refusal of this request alone: a 4xx no retry fixes, or a 403 (the token does not
 * cover this type or interaction; the others may still go, and the dead letter names each).
 * A 401 stays the connection's failure.
 */
function refusedHere(err: unknown): err is EhrError {
  return isEhrError(err) && (err.kind === 'rejected' || err.kind === 'not-found' || err.status === 403);
}

async function writeOne(ehr: EhrClient, p: PlannedResource, resource: Resource): Promise<EntryResult> {
  const entry = p.entry as NonNullable<PlannedResource['entry']>;
  if (entry.request?.method === 'POST') {
    const ifNoneExist = entry.request.ifNoneExist;
    const written = await ehr.create(resource, ifNoneExist ? { ifNoneExist } : {});
    return entryResult(p, written.created ? '201' : '200', written.location, written.etag, written.resource);
  }
  const ifMatch = entry.request?.ifMatch;
  const written = await ehr.update(resource, ifMatch ? { ifMatch } : {});
  return entryResult(p, '200', written.location, written.etag, written.resource ?? resource);
}

/** Records a group's results in one database transaction, before anything else is sent. */
async function record(
  db: Db,
  plan: SyncPlan,
  results: readonly EntryResult[],
  byRef: ReadonlyMap<string, LocalResource>,
  run: Run,
  dependsOn: ReadonlyMap<string, readonly string[]>,
  notes: ReadonlyMap<string, string>,
): Promise<void> {
  const sent = new Set(plan.resources.filter((p) => p.entry).map((p) => p.localReference));
  const refusedHere = new Set(results.filter((r) => !('ok' in r)).map((r) => r.localReference));
  await db.transaction(async (tx) => {
    // The confirmed ones, recorded together after the loop in one statement.
    const synced: MarkSynced[] = [];
    for (const r of results) {
      const [type, id] = r.localReference.split('/') as [string, string];
      if (!('ok' in r)) {
        run.refused.set(r.localReference, r.refused);
        await failed(tx, byRef.get(r.localReference) as LocalResource, `EHR refused it${r.status ? ` (${r.status})` : ''}: ${r.refused}`);
        continue;
      }
      const ehrId = r.ok.ehrReference.split('/')[1] as string;
      // A server running a transaction as a non-atomic batch may keep an entry whose
      // urn:uuid target it refused: the copy is there (recorded, so never created twice)
      // but points nowhere, so it is not synced.
      const broken = (dependsOn.get(r.localReference) ?? []).filter((d) => refusedHere.has(d));
      if (broken.length > 0) {
        await recordEhrCopy(tx, { type, id, localVersion: r.ok.version, ehrId, ehrVersion: r.ok.ehrVersion });
        const why = `written, but it references ${broken.join(', ')}, which the EHR refused in the same request`;
        run.refused.set(r.localReference, why);
        await failed(tx, byRef.get(r.localReference) as LocalResource, why);
        continue;
      }
      // A create that matched a copy already there (left by an attempt whose answer was lost,
      // maybe from an older version) and a stub are not this version yet: a later pass compares.
      if ((r.matchedExisting && type !== 'Patient') || r.stub) {
        await recordEhrCopy(tx, { type, id, localVersion: r.ok.version, ehrId, ehrVersion: r.ok.ehrVersion });
        continue;
      }
      const note = notes.get(r.localReference);
      synced.push({ type, id, localVersion: r.ok.version, ehrId, ehrVersion: r.ok.ehrVersion, ...(note ? { note } : {}) });
      if (sent.has(r.localReference)) run.written++;
      else run.unchanged++;
    }
    await markSyncedMany(tx, synced);
  });
}

async function failed(db: Db, r: LocalResource, why: string): Promise<void> {
  await markFailed(db, { type: r.resource.resourceType, id: r.resource.id as string, error: why.slice(0, 1000), localVersion: r.version });
}

/** References to resources whose type the EHR does not take become logical, by identifier. */
export function keptBackReferences(all: readonly Resource[], strategy: WriteStrategy): Map<string, Identifier> {
  const out = new Map<string, Identifier>();
  for (const r of all) {
    if (!strategy.forType(r.resourceType).keptBack) continue;
    const identifier = syncIdentifier(r) ?? { system: RESOURCE_IDENTIFIER_SYSTEM, value: r.id as string };
    out.set(refOf(r), { system: identifier.system, value: identifier.value });
  }
  return out;
}

export async function knownCopies(db: Db, all: readonly Resource[]): Promise<Map<string, KnownEhrCopy>> {
  const states = await getSyncStates(db, all.map((r) => ({ type: r.resourceType, id: r.id as string })));
  return new Map(
    states.filter((s) => s.ehrId).map((s) => [`${s.type}/${s.id}`, { reference: `${s.type}/${s.ehrId}`, version: s.ehrVersion }]),
  );
}

const refOf = (r: Resource): string => `${r.resourceType}/${r.id ?? ''}`;
