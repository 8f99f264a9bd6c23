import { FUZZ_TARGETS, fuzzEndpoint, startFuzzServer, type FuzzServer } from '../bench/lib/fuzz';
import { startApiHarness, type ApiHarness } from './support/api-harness';

/**
 * Property-based fuzzing of every POST endpoint (bench/lib/fuzz.ts; `npm run bench` runs
 * more): never a 5xx, every 4xx an OperationOutcome, no write on a rejected request.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
jest.setTimeout(120_000);

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

  it.each(FUZZ_TARGETS.map((t) => [t.name, t] as const))('POST %s', async (_name, target) => {
    const result = await fuzzEndpoint(server, api.db, target, RUNS);
    expect(result.tried).toBe(RUNS);
  });
});
