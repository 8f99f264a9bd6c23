/**
 * 7. Bad input: property-based fuzzing of every POST endpoint (@kap/testkit/fuzz), more runs than the test suite's, from random seeds it
 * prints (FUZZ_SEED fixes them).
 */
import { startApiHarness } from '@kap/testkit/api-harness';
import { FUZZ_TARGETS, fuzzEndpoint, startFuzzServer } from '@kap/testkit/fuzz';
import { figure, note } from './lib/report';

const RUNS = Number(process.env.BENCH_FUZZ_RUNS ?? 800);

async function main(): Promise<void> {
  const api = await startApiHarness({ env: { BODY_LIMIT: '1mb' } });
  const server = await startFuzzServer(api.app, api.db);
  let total = 0;
  let failures = 0;
  try {
    for (const target of FUZZ_TARGETS) {
      try {
        const r = await fuzzEndpoint(server, api.db, target, RUNS, process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined);
        total += r.tried;
        note(`fuzz ${target.name}: seed ${r.seed}, statuses ${JSON.stringify(r.statuses)}`);
        figure(`fuzz.${target.name}.tried`, r.tried, 'requests');
      } catch (err) {
        failures++;
        // fast-check's message names the seed and path that reproduce it; add the counterexample to packages/testkit/src/fuzz-corpus.ts.
        console.error(`fuzz ${target.name} FAILED: ${err instanceof Error ? err.message : err}`);
      }
    }
    figure('fuzz.total_tried', total, 'requests');
    figure('fuzz.endpoints_failing', failures, 'endpoints');
  } finally {
    await server.close();
    await api.close();
  }
  if (failures > 0) process.exitCode = 1;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
