import { DEFAULT_TENANT_ID, ehrBaseUrl, type Config } from '@kap/config';
import { DEFAULT_SCREENING_RULES, evaluateScreening } from '@kap/domain';
import {
  decideWriteStrategy,
  groupWrites,
  isEhrError,
  planSync,
  readCapabilities,
  writeSettingsFrom,
  type EhrCapabilities,
  type EhrClient,
  type KnownEhrCopy,
  type LocalResource,
  type WriteStrategy,
} from '@kap/ehr-client';
import { buildPatient, buildScreeningResources, KAP_CANONICAL } from '@kap/fhir';
import type { Resource, ResourceType } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { localReferences } from './sync/ehr-copies';
import { syncIdentityOf } from './sync/sync-identity';
import { profileClaims } from './sync/profile-claims';
import { sendGroup } from './sync/sync-patient';
import { adapterScopeNeeds, connectEhr, grantShortfall, PRODUCED_TYPES } from './ehr-connection';

export { PRODUCED_TYPES };

/**
 * The EHR preflight (`npm run ehr:check`): with the worker's own `EHR_*` settings it
 * connects, authenticates, reads the CapabilityStatement and prints how the worker will
 * write (the same decision the worker makes), which types it sends and how each is found
 * again, and what it keeps back. `--write-test` writes one synthetic, tagged screening
 * and reads it back. Exit code 0 only when the EHR can take a screening.
 */

/** What goes out of the adapter for one resource type, per channel, for the configured EHR. */
export interface ChannelRow {
  readonly type: string;
  /** The FHIR write and how its identity is found, or `-` when nothing is written. */
  readonly fhir: string;
  /** The HL7 v2 message it travels in to the interface engine, or `-`. */
  readonly v2: string;
  /** Why (part of) it stays in the adapter; empty when everything goes. */
  readonly keptBack: string;
}

/** v2 messages by type, once `HL7_OUT_HOST` names the hospital's interface engine. */
const V2_MESSAGES: Readonly<Record<string, string>> = { Observation: 'ORU^R01', DocumentReference: 'MDM^T02 (the course note)' };

/**
 * Per resource type the adapter produces: what reaches this EHR over FHIR (create/update,
 * how a retry finds the first write, the Patient matched or created), what goes as HL7 v2,
 * and what is kept back and why. Pure: the same decision the worker makes.
 */
export function channelRows(
  strategy: WriteStrategy,
  settings: { readonly observationCategories?: readonly string[] },
  hl7OutHost?: string,
): ChannelRow[] {
  return PRODUCED_TYPES.map((type): ChannelRow => {
    const plan = strategy.forType(type);
    const v2 = hl7OutHost && V2_MESSAGES[type] ? V2_MESSAGES[type] : '-';
    if (type === 'Patient') {
      return strategy.patients === 'match'
        ? {
            type,
            fhir: "matched by the hospital's identifier (Patient?identifier=), never created; the sync waits until it is there",
            v2,
            keptBack: '',
          }
        : { type, fhir: 'created if missing (conditional create on the hospital identifier), never updated', v2, keptBack: '' };
    }
    if (plan.keptBack) return { type, fhir: '-', v2, keptBack: plan.keptBack };
    const found =
      plan.identity === 'none'
        ? 'no identity search: one create, its EHR id recorded at once'
        : `${plan.identity === 'identifier' ? 'identifier' : '_tag'} ${plan.conditionalCreate ? 'in If-None-Exist' : 'searched before each create (no conditional create)'}`;
    const writes = plan.update ? 'create/update' : 'create only (no update: later revisions refused)';
    const categories =
      type === 'Observation' && settings.observationCategories ? `categories other than ${settings.observationCategories.join(', ')}` : '';
    return {
      type: type === 'DocumentReference' ? 'DocumentReference (note)' : type,
      fhir: `${writes}; ${found}`,
      v2,
      keptBack: categories,
    };
  });
}

/** The types of one screening besides the Patient. */
const SCREENING_TYPES = ['QuestionnaireResponse', 'Observation', 'Consent'];

/** Tag on everything `--write-test` writes, so hospital IT can find and remove it. */
export const EHR_CHECK_TAG = { system: `${KAP_CANONICAL}/CodeSystem/ehr-check`, code: 'synthetic-test-data' } as const;

export interface EhrCheckOptions {
  readonly writeTest?: boolean;
  readonly out?: (line: string) => void;
  /** Replaces the client built from the settings (tests). */
  readonly ehr?: EhrClient;
  /** The interface engine's host (`HL7_OUT_HOST`): only whether it is set is read. */
  readonly hl7OutHost?: string;
}

export async function runEhrCheck(config: Config, options: EhrCheckOptions = {}): Promise<number> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const ok = (text: string): void => out(`  ok    ${text}`);
  const bad = (text: string): void => out(`  FAIL  ${text}`);
  const base = ehrBaseUrl(config);
  out(`EHR preflight for ${base} (EHR_AUTH=${config.EHR_AUTH})`);
  let ehr: EhrClient;
  try {
    ehr = options.ehr ?? connectEhr(config, { userAgent: 'kap-ehr-check' });
  } catch (err) {
    bad(`settings: ${message(err)}`);
    return 1;
  }

  let capabilities: EhrCapabilities;
  try {
    capabilities = readCapabilities(await ehr.capabilities());
    ok(`CapabilityStatement read: ${capabilities.software ?? 'software not named'}, FHIR ${capabilities.fhirVersion ?? '?'}`);
  } catch (err) {
    bad(`cannot read ${base}/metadata: ${message(err)}`);
    return 1;
  }
  try {
    // An authenticated search that matches nothing: proves the token without reading patient data.
    await ehr.search('Patient', { _id: `kap-ehr-check-${randomUUID()}` });
    ok('connected and authenticated (a search by _id answered)');
  } catch (err) {
    bad(`authenticated request refused: ${message(err)}`);
    return 1;
  }
  const scopeProblems = reportScopes(config, capabilities, ehr, out);

  const settings = writeSettingsFrom(config);
  const strategy = decideWriteStrategy(capabilities, settings);
  out('');
  out(`Writes: ${describeMode(strategy, config)}`);
  for (const warning of strategy.warnings) out(`  warning: ${warning}`);
  const hl7OutHost = options.hl7OutHost ?? (config as { HL7_OUT_HOST?: string }).HL7_OUT_HOST;
  out('');
  out(
    `What goes where (FHIR: this EHR; v2: ${hl7OutHost ? 'HL7_OUT_HOST is set' : 'HL7_OUT_HOST unset, no v2 messages'}; kept back: stays in the adapter, readable on its FHIR API, sync state not-sent):`,
  );
  const rows = channelRows(strategy, settings, hl7OutHost);
  const width = Math.max(...rows.map((r) => r.type.length)) + 2;
  out(`  ${'Resource type'.padEnd(width)}FHIR write | v2 | kept back`);
  for (const r of rows) out(`  ${r.type.padEnd(width)}${r.fhir} | ${r.v2} | ${r.keptBack || '-'}`);
  if (strategy.patients === 'match' && !settings.observationCategories && !strategy.forType('Observation').keptBack) {
    // A CapabilityStatement cannot say which categories an EHR takes; these EHRs usually take two.
    out(
      '  hint: EHRs that only find Patients often take only some Observation categories: set EHR_OBSERVATION_CATEGORIES (e.g. vital-signs,survey) so nothing is sent that they refuse',
    );
  }

  const problems: string[] = [...scopeProblems];
  const patientPlan = strategy.forType('Patient');
  const patientCaps = capabilities.types.get('Patient');
  if (strategy.patients === 'match') {
    if (!patientCaps?.searchParams.has('identifier'))
      problems.push("the EHR may not create Patients and lists no Patient identifier search: the hospital's Patient cannot be found");
  } else if (patientPlan.identity !== 'identifier' || !patientPlan.conditionalCreate) {
    problems.push(
      "the EHR offers no conditional create on Patient identifier: the adapter could not find the hospital's patient and would create another",
    );
  }
  if (SCREENING_TYPES.every((t) => strategy.forType(t).keptBack)) {
    problems.push(`the EHR takes none of a screening's resources (${SCREENING_TYPES.join(', ')})`);
  }
  out('');
  if (problems.length > 0) {
    for (const p of problems) bad(`a screening cannot go to this EHR: ${p}`);
    return 1;
  }
  ok('a screening can go to this EHR');
  if (!options.writeTest) {
    out('  (run with -- --write-test to write a synthetic, tagged test screening and read it back)');
    return 0;
  }
  if (strategy.patients === 'match') {
    // A synthetic screening needs a synthetic Patient, which this EHR may not be sent.
    out("  (no write test: this EHR may not create Patients, and none of the hospital's is written to)");
    return 0;
  }

  out('');
  out(`Write test: a synthetic screening tagged ${EHR_CHECK_TAG.system}|${EHR_CHECK_TAG.code}`);
  try {
    const written = await writeTestScreening(ehr, strategy, writeSettingsFrom(config).unclaimedProfiles);
    for (const line of written) ok(line);
    return 0;
  } catch (err) {
    bad(`write test failed: ${message(err)}`);
    return 1;
  }
}

/**
 * The token's scopes against what the adapter will do: a type or interaction the grant
 * leaves out is named, since every such write would be refused (403) and dead-lettered.
 */
function reportScopes(config: Config, capabilities: EhrCapabilities, ehr: EhrClient, out: (line: string) => void): string[] {
  const grant = ehr.tokenGrant();
  out('');
  if (!grant) {
    out(`Token scopes: none asked (EHR_AUTH=${config.EHR_AUTH})`);
    return [];
  }
  const source = config.EHR_SCOPE ? 'EHR_SCOPE' : "derived from the write plan and the EHR's CapabilityStatement";
  out(`Token scopes asked (${source}): ${grant.asked ?? '(none: the server grants its default)'}`);
  out(`Token scopes granted: ${grant.granted ?? '(not said)'}`);
  const lines = grantShortfall(adapterScopeNeeds(config, capabilities), grant);
  if (lines.length === 0) {
    out('  ok    the token covers every type and interaction the adapter uses here');
    return [];
  }
  for (const line of lines) out(`  FAIL  the token does not cover ${line}`);
  return [
    `the token's scopes leave out what the adapter needs (${lines.length} type(s) above); grant them, or unset EHR_SCOPE to ask for exactly those`,
  ];
}

function describeMode(strategy: WriteStrategy, config: Config): string {
  const source =
    config.EHR_WRITE_MODE === 'auto'
      ? "chosen from the EHR's CapabilityStatement (EHR_WRITE_MODE=auto)"
      : `EHR_WRITE_MODE=${config.EHR_WRITE_MODE}`;
  switch (strategy.mode) {
    case 'transaction':
      return `transaction chunks of at most ${strategy.maxEntries} entries, in dependency order, one patient at a time; ${source}`;
    case 'batch':
      return `batch Bundles of at most ${strategy.maxEntries} independent entries, in dependency order; ${source}`;
    case 'single':
      return `single writes (conditional creates, If-Match updates), in dependency order, one patient at a time; ${source}`;
  }
}

/**
 * Writes one synthetic screening exactly as the worker would (same grouping, planner and
 * requests, with the ids in memory instead of the database), then reads each resource back.
 */
async function writeTestScreening(ehr: EhrClient, strategy: WriteStrategy, unclaimedProfiles: readonly string[]): Promise<string[]> {
  const run = randomUUID();
  const request = {
    patient: {
      system: `${KAP_CANONICAL}/sid/ehr-check`,
      value: `synthetic-${run}`,
      name: { family: 'Synthetic', given: ['Preflight'] },
      birthDate: '1950-01-01',
      gender: 'other' as const,
    },
    performedAt: new Date().toISOString(),
    contraindications: {},
    vitals: { systolic: 120, diastolic: 80, heartRate: 70 },
    measures: {},
    consent: { informed: true, signedAt: new Date().toISOString() },
  };
  // The check runs on one configuration, the deployment's without a tenants file: its patient is that tenant's.
  const patient = buildPatient(request.patient, DEFAULT_TENANT_ID);
  const evaluation = evaluateScreening({ contraindications: request.contraindications, vitals: request.vitals }, DEFAULT_SCREENING_RULES);
  const built = buildScreeningResources({ screeningId: run, request, evaluation, patient, recordedAt: new Date().toISOString() });
  const tagged = [patient, ...built].map(
    (r) => ({ ...r, meta: { ...r.meta, tag: [...(r.meta?.tag ?? []), { ...EHR_CHECK_TAG }] } }) as Resource,
  );
  const sendable = tagged.filter((r) => !strategy.keptBackResource(r));
  const byRef = new Map<string, LocalResource>(sendable.map((r) => [`${r.resourceType}/${r.id}`, { resource: r, version: 1 }]));
  const known = new Map<string, KnownEhrCopy>();
  const identity = (r: Resource) => syncIdentityOf(r, strategy.forType(r.resourceType));
  const items = sendable.map((r) => ({
    key: `${r.resourceType}/${r.id}`,
    dependsOn: localReferences(r).filter((ref) => byRef.has(ref)),
    alone: identity(r).by === 'none' || !strategy.forType(r.resourceType).conditionalCreate,
  }));
  const keptBack = new Map(
    tagged
      .filter((r) => strategy.keptBackResource(r))
      .map((r) => [`${r.resourceType}/${r.id}`, { system: `${KAP_CANONICAL}/sid/resource`, value: r.id as string }]),
  );
  // A claims memory of its own: what the test learns is reported as a setting to make.
  const counter = { requests: 0, claims: profileClaims(undefined, unclaimedProfiles), claimTrials: new Map<string, string>() };
  const lines: string[] = [];
  const notes: string[] = [];
  const queue = groupWrites(items, { mode: strategy.mode, maxEntries: strategy.maxEntries }).map((group) => ({ group, single: false }));
  for (let next = queue.shift(); next; next = queue.shift()) {
    const { group, single } = next;
    const plan = planSync({
      resources: group.keys.map((k) => byRef.get(k) as LocalResource),
      syncIdentityOf: identity,
      existing: new Map(),
      knownEhrCopies: known,
      bundleType: strategy.mode === 'batch' ? 'batch' : 'transaction',
      keptBack,
      stubs: group.stubs,
      conditionalCreate: (r) => strategy.forType(r.resourceType).conditionalCreate,
    });
    const sent = await sendGroup(ehr, single ? { ...strategy, mode: 'single', maxEntries: 1 } : strategy, plan, counter);
    if ('bundleRefused' in sent || sent.retrySingly.length > 0) {
      // As the worker does: one by one, so the EHR's answer names the resource it refuses.
      const why = 'bundleRefused' in sent ? sent.bundleRefused : `it refused ${sent.retrySingly.join(', ')}`;
      notes.push(`the EHR refused a ${strategy.mode} of ${group.keys.length} (${why.slice(0, 200)}); sent one by one`);
      if (!('bundleRefused' in sent)) {
        for (const result of sent.results)
          if ('ok' in result) known.set(result.localReference, { reference: result.ok.ehrReference, version: result.ok.ehrVersion });
      }
      queue.unshift(
        ...group.keys.map((key) => ({ group: { keys: [key], stubs: new Map([...group.stubs].filter(([k]) => k === key)) }, single: true })),
      );
      continue;
    }
    for (const [ref, note] of sent.notes) notes.push(`${ref} ${note}`);
    for (const result of sent.results) {
      if (!('ok' in result)) throw new Error(`the EHR refused ${result.localReference}: ${result.refused}`);
      known.set(result.localReference, { reference: result.ok.ehrReference, version: result.ok.ehrVersion });
    }
  }
  for (const [local, copy] of known) {
    const [type, id] = copy.reference.split('/') as [ResourceType, string];
    const read = await ehr.read(type, id);
    if (!read) throw new Error(`${local} was written as ${copy.reference} but reads back as missing`);
    lines.push(`${type} written and read back as ${copy.reference}`);
  }
  lines.push(`${known.size} resources in ${counter.requests} request(s); ${keptBack.size} kept back`);
  for (const note of notes) lines.push(note);
  const learned = counter.claims.learned();
  if (learned.length > 0) {
    lines.push(`this EHR refuses the profile claim(s) ${learned.join(', ')}; the worker leaves them out after the first refusal.`);
    lines.push(
      `  recommended: EHR_UNCLAIMED_PROFILES=${[...new Set([...unclaimedProfiles, ...learned])].join(',')} (no refused first attempt after each restart)`,
    );
  }
  return lines;
}

function message(err: unknown): string {
  if (isEhrError(err)) return `${err.message}${err.kind === 'auth' ? ' (check EHR_AUTH and its credentials)' : ''}`;
  return err instanceof Error ? err.message : String(err);
}
