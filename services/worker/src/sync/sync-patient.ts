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
  type SyncIdentity,
  type SyncPlan,
  type WriteStrategy,
} from '@kap/ehr-client';
import { RESOURCE_IDENTIFIER_SYSTEM } from '@kap/fhir';
import {
  forgetEhrCopy,
  getSyncStates,
  listPatientSyncRows,
  markFailed,
  markNotSent,
  markSyncedMany,
  markWaitingForPatient,
  recordEhrCopy,
  type TenantDb,
  type MarkSynced,
} from '@kap/store';
import type { Identifier, Resource } from '@medplum/fhirtypes';
import { syncIdentityOf, syncIdentifier } from './sync-identity';
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
  /**
   * The EHR may not create Patients and holds none with the hospital's identifier (yet):
   * the patient's resources are `waiting-for-patient`, nothing was written.
   */
  readonly waitingForPatient?: string;
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
export async function syncPatient(db: TenantDb, ehr: EhrClient, patientId: string, options: SyncOptions = {}): Promise<SyncOutcome> {
  const settings = options.settings ?? DEFAULT_WRITE_SETTINGS;
  const capabilities = capabilityCache(ehr, settings.capabilitiesRefreshMs);
  const strategy = decideWriteStrategy(await capabilities.get(), settings);
  const claims = profileClaims(ehr, settings.unclaimedProfiles);
  for (let attempt = 1; ; attempt++) {
    const run: Run = {
      written: 0,
      unchanged: 0,
      notSent: 0,
      requests: 0,
      refused: new Map(),
      claims,
      claimTrials: new Map(),
      waitingForPatient: undefined,
    };
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
    return {
      written: run.written,
      unchanged: run.unchanged,
      notSent: run.notSent,
      requests: run.requests,
      ...(run.waitingForPatient ? { waitingForPatient: run.waitingForPatient } : {}),
    };
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
  /** `Type/id` → the EHR's refusal of it with its profile claims, while it is tried without them. */
  readonly claimTrials: Map<string, string>;
  waitingForPatient: string | undefined;
}

/** At most this many follow-up passes (stubs completed, matched copies compared) per attempt. */
const MAX_PASSES = 3;

async function syncPass(
  db: TenantDb,
  ehr: EhrClient,
  strategy: WriteStrategy,
  patientId: string,
  run: Run,
  readFirst: boolean,
  pass: number,
): Promise<void> {
  // One read: every resource of the patient with its sync state (content read once).
  const rows = await listPatientSyncRows(db, patientId);
  const unsynced = rows.filter((u) => (u.syncedVersion ?? 0) < u.version && !run.refused.has(`${u.type}/${u.id}`));
  if (unsynced.length === 0) return;

  const matchPatient = strategy.patients === 'match';
  // Where the EHR may not create Patients, the Patient is matched below, never kept back.
  const keptBackWhy = (u: { type: string; resource: Resource }): string | undefined =>
    matchPatient && u.type === 'Patient' ? undefined : strategy.keptBackResource(u.resource);
  const notSentWhy = new Map<string, string[]>();
  const notSent = unsynced.filter((u) => keptBackWhy(u));
  for (const u of notSent) {
    const why = `EHR does not take ${u.type}: ${keptBackWhy(u) as string}`;
    notSentWhy.set(why, [...(notSentWhy.get(why) ?? []), `${u.type}/${u.id}`]);
  }
  for (const [why, refs] of notSentWhy) {
    await markNotSent(
      db,
      notSent.filter((u) => refs.includes(`${u.type}/${u.id}`)).map((u) => ({ type: u.type, id: u.id, version: u.version })),
      why,
    );
  }
  if (pass === 0) run.notSent += notSent.length;

  const patientResources = rows.map((r) => r.resource);
  // Marking some not sent above changed no EHR id: the copies are as read.
  let known = copiesOf(rows);
  let toSend = unsynced.filter((u) => !keptBackWhy(u));
  const patientKnown = patientResources.some((r) => r.resourceType === 'Patient' && known.has(refOf(r)));
  if (matchPatient && (toSend.some((u) => u.type === 'Patient') || (toSend.length > 0 && !patientKnown))) {
    const waiting = await matchEhrPatient(db, ehr, patientResources, known);
    if (waiting) {
      run.waitingForPatient = waiting;
      await markWaitingForPatient(
        db,
        toSend.map((u) => ({ type: u.type, id: u.id, version: u.version })),
        waiting,
      );
      return;
    }
    known = await knownCopies(db, patientResources);
    toSend = toSend.filter((u) => u.type !== 'Patient');
  }

  // A newer version of what the EHR holds but cannot update (its Observations, on most
  // hospital EHRs): the EHR keeps the version it has, and this one stays here, said so, never
  // attempted. A copy recorded but never confirmed (a create that matched) is compared below.
  const frozen = toSend.filter(
    (u) => u.type !== 'Patient' && u.syncedVersion !== null && !strategy.forType(u.type).update && known.has(`${u.type}/${u.id}`),
  );
  for (const u of frozen) {
    const why = `EHR takes no update of ${u.type}: it keeps version ${u.syncedVersion} as sent; version ${u.version} stays here`;
    await markNotSent(db, [{ type: u.type, id: u.id, version: u.version }], why);
  }
  if (pass === 0) run.notSent += frozen.length;
  toSend = toSend.filter((u) => !frozen.includes(u));

  const sendable: LocalResource[] = toSend.map((u) => ({
    resource: u.resource,
    version: u.version,
    // A type the EHR cannot update: a copy found by identity (an earlier attempt's) is kept as it is.
    createOnly: u.type === 'Patient' || (!strategy.forType(u.type).update && !known.has(`${u.type}/${u.id}`)),
  }));
  if (sendable.length === 0) return;
  const identity = (r: Resource) => syncIdentityOf(r, strategy.forType(r.resourceType));
  const keptBack = keptBackReferences(patientResources, strategy);
  // Without conditional create, every create is preceded by a search on its identity: a copy
  // an earlier attempt wrote (its answer lost, or the worker killed before recording it) is
  // found and recorded instead of written twice. The patient's lease keeps other writers out.
  const unconditional = sendable.filter(
    (r) =>
      !strategy.forType(r.resource.resourceType).conditionalCreate && identity(r.resource).by !== 'none' && !known.has(refOf(r.resource)),
  );
  const existing = await searchBeforeCreate(db, ehr, readFirst ? sendable : unconditional, identity, known, run);
  // What the EHR refused even to search for is recorded failed; the rest still goes.
  const writable = sendable.filter((r) => !run.refused.has(refOf(r.resource)));

  const byRef = new Map(writable.map((r) => [refOf(r.resource), r]));
  const found = new Set(writable.filter((r) => existing.has(copyKey(r.resource, identity(r.resource)))).map((r) => refOf(r.resource)));
  const hasEhrCopy = (ref: string): boolean => known.has(ref) || found.has(ref);
  const items = writable.map((r) => ({
    key: refOf(r.resource),
    // A reference to one the EHR refused earlier in this run blocks it too.
    dependsOn: localReferences(r.resource).filter((ref) => (byRef.has(ref) && !hasEhrCopy(ref)) || run.refused.has(ref)),
    // A create that is not conditional goes alone, and its EHR id is recorded before anything else is sent.
    alone:
      (identity(r.resource).by === 'none' || !strategy.forType(r.resource.resourceType).conditionalCreate) && !known.has(refOf(r.resource)),
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
    const waiting = keys.filter(
      (k) => !blocked.includes(k) && localReferences((byRef.get(k) as LocalResource).resource).some((d) => deferred.has(d)),
    );
    for (const k of waiting) deferred.add(k);
    const resources = keys.filter((k) => !blocked.includes(k) && !waiting.includes(k)).map((k) => byRef.get(k) as LocalResource);
    if (resources.length === 0) continue;
    const plan = planSync({
      resources,
      syncIdentityOf: identity,
      existing,
      knownEhrCopies: known,
      bundleType: strategy.mode === 'batch' ? 'batch' : 'transaction',
      keptBack,
      stubs: group.stubs,
      conditionalCreate: (r) => strategy.forType(r.resourceType).conditionalCreate,
    });
    const sent = await sendThroughContention(() => sendGroup(ehr, strategy, plan, run), plan, strategy);
    if ('bundleRefused' in sent || sent.retrySingly.length > 0) {
      if (!('bundleRefused' in sent)) {
        // Entries of a batch (or of a transaction run as one) refused while they claim
        // profiles: what the EHR took is recorded as there, not yet synced, and the whole
        // group goes again one by one, so what referenced a refused entry is written again
        // pointing at its copy once the retry without claims has made one.
        await db.transaction(async (tx) => {
          for (const r of sent.results) {
            if (!('ok' in r)) continue;
            const [type, id] = r.localReference.split('/') as [string, string];
            await recordEhrCopy(tx, {
              type,
              id,
              localVersion: r.ok.version,
              ehrId: r.ok.ehrReference.split('/')[1] as string,
              ehrVersion: r.ok.ehrVersion,
            });
          }
        });
        known = knownAfter(known, sent.results, new Set());
      }
      // One by one, in the same order, each planned with what the previous ones wrote.
      queue.unshift(
        ...resources.map((r) => ({
          keys: [refOf(r.resource)],
          stubs: new Map([...(group?.stubs ?? [])].filter(([k]) => k === refOf(r.resource))),
        })),
      );
      continue;
    }
    // An update the EHR answers 404/410 for: its copy is gone there. Forget it and create it again.
    const gone = sent.results.filter(
      (r) =>
        !('ok' in r) &&
        /^(404|410)$/.test(r.status) &&
        plan.resources.find((p) => p.localReference === r.localReference)?.action === 'update',
    );
    for (const r of gone) {
      const [type, id] = r.localReference.split('/') as [string, string];
      await forgetEhrCopy(db, { type, id });
    }
    const goneRefs = new Set(gone.map((r) => r.localReference));
    for (const ref of goneRefs) deferred.add(ref);
    await record(
      db,
      plan,
      sent.results.filter((r) => !goneRefs.has(r.localReference)),
      byRef,
      run,
      dependsOn,
      sent.notes,
    );
    if (gone.length > 0) again = true;
    if (sent.results.some((r) => 'ok' in r && (r.matchedExisting || r.stub) && !r.localReference.startsWith('Patient/'))) again = true;
    known = knownAfter(known, sent.results, goneRefs);
  }
  // Stubs are completed and copies a create matched are compared, from a fresh read of the EHR.
  if (again && pass + 1 < MAX_PASSES) await syncPass(db, ehr, strategy, patientId, run, true, pass + 1);
}

/**
 * What the EHR holds for these resources (all of them on a re-read, else those about to be
 * created without conditional create: the copies earlier attempts left), type by type. A type whose search the EHR refuses (it claimed the
 * type, then answers 404 or 4xx) is recorded failed with that answer: nothing of it is created
 * blind, and the other types still go.
 */
async function searchBeforeCreate(
  db: TenantDb,
  ehr: EhrClient,
  resources: readonly LocalResource[],
  identity: (r: Resource) => SyncIdentity,
  known: ReadonlyMap<string, KnownEhrCopy>,
  run: Run,
): Promise<Map<string, EhrCopy>> {
  const existing = new Map<string, EhrCopy>();
  const byType = new Map<string, LocalResource[]>();
  for (const r of resources) byType.set(r.resource.resourceType, [...(byType.get(r.resource.resourceType) ?? []), r]);
  for (const [type, list] of byType) {
    try {
      for (const [key, copy] of await readEhrCopies(
        ehr,
        list.map((r) => r.resource),
        identity,
        known,
      ))
        existing.set(key, copy);
    } catch (err) {
      if (!isEhrError(err) || (err.kind !== 'rejected' && err.kind !== 'not-found')) throw err;
      const why = `the EHR refused the ${type} search that must come before its create: ${err.message}`.slice(0, 500);
      for (const r of list) {
        run.refused.set(refOf(r.resource), why);
        await failed(db, r, why);
      }
    }
  }
  return existing;
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
  run: ClaimsRun,
): Promise<GroupSent | { readonly bundleRefused: string }> {
  const notes = new Map<string, string>();
  const writes = plan.resources.filter((p) => p.entry);
  if (!plan.bundle || writes.length === 0) return { results: entryResults(plan, undefined), notes, retrySingly: [] };
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
      const results = entryResults(plan, response);
      // A batch (or a transaction run as one) refuses entries alone: one refused for what it
      // may claim is tried again on its own, without the claims.
      const retrySingly: string[] = [];
      for (const r of results) {
        if ('ok' in r || !/^(400|422)\b/.test(r.status) || run.claimTrials.has(r.localReference)) continue;
        const p = writes.find((w) => w.localReference === r.localReference);
        const sentResource = p?.entryIndex === undefined ? undefined : entries[p.entryIndex]?.resource;
        if (!sentResource || run.claims.droppable(sentResource).length === 0) continue;
        run.claimTrials.set(r.localReference, r.refused);
        retrySingly.push(r.localReference);
      }
      return { results, notes, retrySingly };
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
  return { results, notes, retrySingly: [] };
}

/**
 * How many times one request the EHR answered 409 is sent again as it was, before the EHR is
 * re-read; the waits grow from 100 ms to 2 s (full jitter). Ten patients at concurrency 4
 * against the Medplum peer still fell back to the re-read three times in a run with three.
 */
const CONTENTION_RESENDS = 8;

/**
 * Sends a group, and sends it again as it was, after a short random wait, when the EHR
 * answers 409 for the request as a whole: a server that runs conditional writes in
 * serializable transactions (Medplum) refuses one that raced another ("could not serialize
 * access") and wrote nothing. Only a request that is one request (a Bundle, or one write)
 * and whose every write is conditional goes again: If-None-Exist and If-Match make a second
 * send write nothing twice. A conflict that persists is answered as before, by re-reading
 * the EHR and planning from what it holds (syncPatient), which costs a search per type.
 */
async function sendThroughContention<T>(send: () => Promise<T>, plan: SyncPlan, strategy: WriteStrategy): Promise<T> {
  const writes = plan.resources.filter((p) => p.entry);
  const oneRequest = writes.length === 1 || (strategy.mode !== 'single' && writes.length > 1);
  const conditional = writes.every((p) => {
    const request = p.entry?.request;
    return Boolean(request?.ifNoneExist || request?.ifMatch || request?.url?.includes('?'));
  });
  for (let resend = 0; ; resend++) {
    try {
      return await send();
    } catch (err) {
      if (!isEhrError(err) || err.kind !== 'conflict' || !oneRequest || !conditional || resend >= CONTENTION_RESENDS) throw err;
      // Full jitter: two workers that collided do not collide again in step.
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(2000, 50 * 2 ** (resend + 1))));
    }
  }
}

/** What a sender needs beside the EHR: its request count and the profile claims memory. */
export interface ClaimsRun {
  requests: number;
  readonly claims: ProfileClaims;
  /** `Type/id` → the EHR's refusal with its claims, for a resource to send next without them. */
  readonly claimTrials: Map<string, string>;
}

export interface GroupSent {
  readonly results: EntryResult[];
  /** How a resource was sent when not as stored (a profile claim left out). */
  readonly notes: ReadonlyMap<string, string>;
  /** Refused entries to send again one by one, without their profile claims. */
  readonly retrySingly: readonly string[];
}

/**
 * One write. A resource refused (400/422) while it claims profiles is sent once more
 * without the claims: taken then, the refusal was the claim's, which is remembered for
 * this EHR and noted on the resource; refused again, the first refusal stands.
 */
async function sendOne(ehr: EhrClient, p: PlannedResource, run: ClaimsRun): Promise<{ result: EntryResult; note?: string }> {
  const entry = p.entry as NonNullable<PlannedResource['entry']>;
  const { resource, note } = run.claims.outgoing(entry.resource as Resource);
  const trial = run.claimTrials.get(p.localReference);
  if (trial !== undefined) {
    run.claimTrials.delete(p.localReference);
    return withoutTheClaims(ehr, p, resource, trial, run);
  }
  try {
    run.requests++;
    return { result: await writeOne(ehr, p, resource), ...(note ? { note } : {}) };
  } catch (err) {
    if (!refusedHere(err)) throw err;
    const refused = { localReference: p.localReference, refused: err.message.slice(0, 800), status: String(err.status ?? '') };
    if (run.claims.droppable(resource).length === 0 || (err.status !== 400 && err.status !== 422)) return { result: refused };
    return withoutTheClaims(ehr, p, resource, err.message, run);
  }
}

/**
 * The second try of a resource the EHR refused while it claimed profiles: taken without
 * them, the refusal was the claims', remembered for this EHR and noted on the resource;
 * refused again, the first refusal stands, with the second beside it.
 */
async function withoutTheClaims(
  ehr: EhrClient,
  p: PlannedResource,
  resource: Resource,
  refusal: string,
  run: ClaimsRun,
): Promise<{ result: EntryResult; note?: string }> {
  const claimed = run.claims.droppable(resource);
  try {
    run.requests++;
    const result = await writeOne(ehr, p, withoutClaims(resource, claimed));
    run.claims.learn(claimed, refusal);
    return { result, note: droppedNote(claimed, `the EHR refused it claiming ${claimed.length > 1 ? 'them' : 'it'}: ${refusal}`) };
  } catch (again) {
    if (!refusedHere(again)) throw again;
    const refused = `${refusal} (refused without its profile claims too: ${again.message})`.slice(0, 1000);
    return { result: { localReference: p.localReference, refused, status: String(again.status ?? '') } };
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
  db: TenantDb,
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

async function failed(db: TenantDb, r: LocalResource, why: string): Promise<void> {
  await markFailed(db, { type: r.resource.resourceType, id: r.resource.id as string, error: why.slice(0, 1000), localVersion: r.version });
}

/** References to resources whose type the EHR does not take become logical, by identifier. */
export function keptBackReferences(all: readonly Resource[], strategy: WriteStrategy): Map<string, Identifier> {
  const out = new Map<string, Identifier>();
  for (const r of all) {
    // A matched Patient is referenced by the EHR's own id: that is what puts it in the chart.
    if (strategy.patients === 'match' && r.resourceType === 'Patient') continue;
    if (!strategy.keptBackResource(r)) continue;
    const identifier = syncIdentifier(r) ?? { system: RESOURCE_IDENTIFIER_SYSTEM, value: r.id as string };
    out.set(refOf(r), { system: identifier.system, value: identifier.value });
  }
  return out;
}

/**
 * Finds the hospital's Patient in an EHR that may not create one, by the hospital's
 * identifier, and records its EHR id as the Patient's copy (never written: the hospital
 * owns it). Returns why the sync must wait, or undefined once the Patient is matched.
 */
export async function matchEhrPatient(
  db: TenantDb,
  ehr: EhrClient,
  all: readonly Resource[],
  known: ReadonlyMap<string, KnownEhrCopy>,
): Promise<string | undefined> {
  const patient = all.find((r) => r.resourceType === 'Patient');
  if (!patient?.id) return 'the adapter holds no Patient for this patient';
  const version = Number(patient.meta?.versionId ?? 1);
  const ref = `Patient/${patient.id}`;
  const copy = known.get(ref);
  if (copy) {
    await markSyncedMany(db, [
      { type: 'Patient', id: patient.id, localVersion: version, ehrId: copy.reference.split('/')[1] as string, ehrVersion: copy.version },
    ]);
    return undefined;
  }
  // Every identifier the hospital gave (an MRN, a national number): one EHR Patient must answer to them.
  const hospital = (patient.resourceType === 'Patient' ? (patient.identifier ?? []) : [])
    .filter((i) => i.system && i.value && i.system !== RESOURCE_IDENTIFIER_SYSTEM)
    .map((i) => ({ system: i.system as string, value: i.value as string }));
  if (hospital.length === 0) return 'the Patient has no hospital identifier to find it by in the EHR';
  const found = await ehr.findByIdentifiers('Patient', hospital);
  const matching = found.filter((p) =>
    (p.identifier ?? []).some((i) => hospital.some((h) => i.system === h.system && i.value === h.value)),
  );
  const systems = hospital.map((h) => h.system).join(', ');
  const distinct = new Map(matching.map((p) => [p.id, p]));
  if (distinct.size === 0) return `the EHR has no Patient with the hospital's identifier (${systems}) yet; it may not create one`;
  if (distinct.size > 1)
    return `the EHR has ${distinct.size} Patients with the hospital's identifiers (${systems}); the hospital must merge them`;
  const ehrPatient = [...distinct.values()][0] as Resource;
  await markSyncedMany(db, [
    {
      type: 'Patient',
      id: patient.id,
      localVersion: version,
      ehrId: ehrPatient.id as string,
      ehrVersion: ehrPatient.meta?.versionId ?? null,
    },
  ]);
  return undefined;
}

export async function knownCopies(db: TenantDb, all: readonly Resource[]): Promise<Map<string, KnownEhrCopy>> {
  const states = await getSyncStates(
    db,
    all.map((r) => ({ type: r.resourceType, id: r.id as string })),
  );
  return copiesOf(states);
}

/** Where the EHR holds each resource whose sync state records a copy, by local reference. */
function copiesOf(
  states: readonly { type: string; id: string; ehrId: string | null; ehrVersion: string | null }[],
): Map<string, KnownEhrCopy> {
  return new Map(
    states.flatMap((s) => (s.ehrId ? [[`${s.type}/${s.id}`, { reference: `${s.type}/${s.ehrId}`, version: s.ehrVersion }] as const] : [])),
  );
}

/**
 * `known` once a group's answers are recorded: what knownCopies would read back (every copy
 * the EHR answered with is recorded, a gone one forgotten, a refusal leaves the copy as it
 * was), without reading it. The patient's lease keeps every other writer of these rows out.
 */
function knownAfter(
  known: ReadonlyMap<string, KnownEhrCopy>,
  results: readonly EntryResult[],
  gone: ReadonlySet<string>,
): Map<string, KnownEhrCopy> {
  const next = new Map(known);
  for (const ref of gone) next.delete(ref);
  for (const r of results) {
    if (!('ok' in r) || gone.has(r.localReference)) continue;
    // As recorded: the EHR id alone, under the local type.
    const type = r.localReference.split('/')[0] as string;
    next.set(r.localReference, { reference: `${type}/${r.ok.ehrReference.split('/')[1] as string}`, version: r.ok.ehrVersion });
  }
  return next;
}

const refOf = (r: Resource): string => `${r.resourceType}/${r.id ?? ''}`;
