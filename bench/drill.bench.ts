/** 6. Resilience drill (packages/testkit/src/drill.ts): load while the EHR fails, a worker is killed and Redis loses its keys. */
import { runDrill } from '@kap/testkit/drill';
import { figure, note } from './lib/report';

const SECONDS = Number(process.env.BENCH_DRILL_SECONDS ?? 40);
const RATE = Number(process.env.BENCH_DRILL_RATE ?? 2);

runDrill({
  seconds: SECONDS,
  rate: RATE,
  flushWhileRunning: process.env.BENCH_DRILL_FLUSH_UNDER_WORKERS === '1',
  log: (l) => note(`drill ${l}`),
}).then(
  (r) => {
    note(`drill: ${SECONDS} s at ${RATE} enrolments/s; faults ${JSON.stringify(r.faults)}; rejected ${JSON.stringify(r.requestsRejected)}`);
    figure('drill.requests_accepted', r.requestsAccepted, 'requests');
    figure('drill.resources_local', r.resourcesLocal, 'resources');
    figure('drill.resources_in_ehr', r.resourcesInEhr, 'resources');
    figure('drill.lost', r.lost.length, 'resources');
    figure('drill.duplicated', r.duplicated.length, 'identities');
    figure('drill.drain_after_load', r.drainSeconds, 's');
    process.exit(r.lost.length + r.duplicated.length > 0 ? 1 : 0);
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
