import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createEhrClient, planSync, type WriteStrategy } from '@kap/ehr-client';
import type { Observation } from '@medplum/fhirtypes';
import { syncIdentityOf } from './sync-identity';
import { profileClaims, withoutClaims } from './profile-claims';
import { sendGroup } from './sync-patient';

const BP = 'http://hl7.org/fhir/StructureDefinition/bp';
const VITALS = 'http://hl7.org/fhir/StructureDefinition/vitalsigns';

const single: WriteStrategy = {
  mode: 'single',
  maxEntries: 1,
  warnings: [],
  patients: 'create',
  forType: (type) => ({ type, identity: 'identifier', tagSearch: true, conditionalCreate: true, update: true }),
  keptBackResource: () => undefined,
};

const observation = (profiles: string[]): Observation => ({
  resourceType: 'Observation',
  id: 'obs-1',
  meta: { versionId: '1', profile: profiles, tag: [{ system: 'urn:test', code: 'kept' }] },
  identifier: [{ system: 'https://kap-adapter.org/fhir/sid/resource', value: 'obs-1' }],
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
});

/** An EHR on loopback that answers each create with `answer(body)`, recording what it got. */
async function ehrAnswering(
  answer: (body: Observation) => number,
): Promise<{ url: string; bodies: Observation[]; close(): Promise<void> }> {
  const bodies: Observation[] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString('utf8')));
    req.on('end', () => {
      const body = JSON.parse(text) as Observation;
      bodies.push(body);
      const status = answer(body);
      const reply =
        status === 201
          ? { ...body, id: `ehr-${bodies.length}`, meta: { ...body.meta, versionId: 'v1' } }
          : {
              resourceType: 'OperationOutcome',
              issue: [{ severity: 'error', code: 'processing', diagnostics: `refused #${bodies.length}` }],
            };
      res
        .writeHead(status, {
          'Content-Type': 'application/fhir+json',
          ...(status === 201 ? { Location: `Observation/ehr-${bodies.length}/_history/v1` } : {}),
        })
        .end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/fhir`, bodies, close: () => new Promise((r) => server.close(() => r())) };
}

async function sendOneObservation(url: string, resource: Observation, claims = profileClaims(undefined, [])) {
  const ehr = createEhrClient({ baseUrl: url, auth: { mode: 'none' }, timeoutMs: 5000 });
  const plan = planSync({
    resources: [{ resource, version: 1 }],
    syncIdentityOf: (r) => syncIdentityOf(r),
    existing: new Map(),
    knownEhrCopies: new Map(),
    bundleType: 'transaction',
    keptBack: new Map(),
    stubs: new Map(),
  });
  const run = { requests: 0, claims, claimTrials: new Map<string, string>() };
  const sent = await sendGroup(ehr, single, plan, run);
  if ('bundleRefused' in sent) throw new Error('single writes are never a bundle');
  return { result: sent.results[0], note: sent.notes.get('Observation/obs-1'), requests: run.requests, claims };
}

describe('profile claims an EHR refuses', () => {
  it('leaves out only the named claims, keeping the rest of meta and all data', () => {
    const out = withoutClaims(observation([BP, VITALS]), [BP]);
    expect(out.meta).toEqual({ versionId: '1', profile: [VITALS], tag: [{ system: 'urn:test', code: 'kept' }] });
    expect(withoutClaims(observation([BP]), [BP]).meta).toEqual({ versionId: '1', tag: [{ system: 'urn:test', code: 'kept' }] });
    expect({ ...withoutClaims(observation([BP]), [BP]), meta: undefined }).toEqual({ ...observation([BP]), meta: undefined });
  });

  it('sends a resource refused for its claims again without them, notes it, and remembers the claim', async () => {
    const ehr = await ehrAnswering((body) => (body.meta?.profile?.length ? 400 : 201));
    try {
      const { result, note, requests, claims } = await sendOneObservation(ehr.url, observation([BP]));
      expect(result && 'ok' in result).toBe(true);
      expect(requests).toBe(2);
      expect(ehr.bodies[1]?.meta?.profile).toBeUndefined();
      expect(ehr.bodies[1]?.code).toEqual(observation([]).code);
      expect(note).toMatch(
        /sent without its profile claim http:\/\/hl7\.org\/fhir\/StructureDefinition\/bp \(data unchanged\): the EHR refused it claiming it: .*refused #1/,
      );
      expect(claims.learned()).toEqual([BP]);
      // The next one goes without the claim at once.
      const next = await sendOneObservation(ehr.url, observation([BP]), claims);
      expect(next.requests).toBe(1);
      expect(next.note).toMatch(/the EHR refused it before/);
    } finally {
      await ehr.close();
    }
  });

  it('keeps every other refusal a refusal: refused without the claims too, nothing is learned', async () => {
    const ehr = await ehrAnswering(() => 400);
    try {
      const { result, requests, claims } = await sendOneObservation(ehr.url, observation([BP]));
      expect(result && 'refused' in result ? result.refused : '').toMatch(
        /refused #1.*refused without its profile claims too: .*refused #2/,
      );
      expect(requests).toBe(2);
      expect(claims.learned()).toEqual([]);
    } finally {
      await ehr.close();
    }
  });

  it('does not retry a refusal that is not about content (a 404), nor a resource that claims nothing', async () => {
    const gone = await ehrAnswering(() => 404);
    const plain = await ehrAnswering(() => 400);
    try {
      expect((await sendOneObservation(gone.url, observation([BP]))).requests).toBe(1);
      expect((await sendOneObservation(plain.url, observation([]))).requests).toBe(1);
    } finally {
      await gone.close();
      await plain.close();
    }
  });
});
