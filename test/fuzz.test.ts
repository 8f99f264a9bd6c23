import { FUZZ_CORPUS } from '@kap/testkit/fuzz-corpus';
import { FUZZ_TARGETS, checkCase, fixedSeed, fuzzEndpoint, startFuzzServer, type FuzzServer } from '@kap/testkit/fuzz';
import { startApiHarness, type ApiHarness } from '@kap/testkit/api-harness';

/**
 * Property-based fuzzing of every POST endpoint (@kap/testkit/fuzz): never a 5xx, every
 * 4xx an OperationOutcome, no write on a rejected request. Deterministic, so no submission
 * fails by chance: every counterexample found so far (@kap/testkit/fuzz-corpus) first, then
 * generated requests from a fixed seed per endpoint (FUZZ_SEED). `npm run bench` runs more,
 * from random seeds it prints.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
jest.setTimeout(180_000);

describe('bad input never breaks the API', () => {
  let api: ApiHarness;
  let server: FuzzServer;
  beforeAll(async () => {
    api = await startApiHarness({ env: { BODY_LIMIT: '1mb' } });
    server = await startFuzzServer(api.app, api.db);
  });
  afterAll(async () => {
    await server?.close();
    await api?.close();
  });

  it.each(FUZZ_CORPUS.map((c) => [`${c.target}: ${c.found}`, c] as const))('corpus: %s', async (_name, entry) => {
    const target = FUZZ_TARGETS.find((t) => t.name === entry.target);
    if (!target) throw new Error(`corpus names an unknown endpoint: ${entry.target}`);
    const status = await checkCase(server, api.db, target, entry.make(target.valid(server.ids)));
    expect(status).toBeGreaterThanOrEqual(400);
  });

  it.each(FUZZ_TARGETS.map((t) => [t.name, t] as const))('POST %s', async (_name, target) => {
    const result = await fuzzEndpoint(server, api.db, target, RUNS, fixedSeed(SEED, target));
    expect(result.tried).toBe(RUNS);
  });
});
