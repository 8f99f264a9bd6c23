import { runDrill } from '@kap/testkit/drill';

/**
 * A short resilience drill (@kap/testkit/drill; `npm run bench` runs a longer one): a steady
 * load while the EHR answers 500s and 429s and goes down, a worker process is killed, and
 * Redis loses this run's keys; afterwards every accepted resource is in the EHR exactly
 * once. Needs the built worker (services/worker/dist), which `npm test` builds first.
 * DRILL_LOG=1 prints its timeline.
 */
jest.setTimeout(180_000);

it('under load and failures, every accepted resource reaches the EHR exactly once', async () => {
  const log = process.env.DRILL_LOG ? (line: string) => process.stdout.write(`drill: ${line}\n`) : undefined;
  const result = await runDrill({ seconds: 20, rate: 2, drainTimeoutMs: 120_000, log });
  expect(result.requestsAccepted).toBeGreaterThan(60);
  expect(result.lost).toEqual([]);
  expect(result.duplicated).toEqual([]);
  expect(result.resourcesInEhr).toBe(result.resourcesLocal);
  expect(result.faults).toMatchObject({ ehr500: 5, ehr429: 3, workerKilled: 1, redisFlushed: 1 });
});
