/**
 * 1. Ingest: POST /v1/screenings and POST /v1/courses/{id}/dosing-sessions on the real API
 * (its own process, production wiring: PostgreSQL, the Redis check), at saturation and at a
 * fixed rate (half its saturation, and 100 req/s), against a bare express app that parses the same JSON (its own process too),
 * measured with autocannon over keep-alive connections in the same run.
 */
import { screeningRequest } from '../test/support/requests';
import { pool, postJson, sessionRequest } from './lib/bodies';
import { benchSchema } from './lib/env';
import { load, spawnServer, type LoadResult } from './lib/http-load';
import { figure, note, ratio } from './lib/report';

const SECONDS = Number(process.env.BENCH_INGEST_SECONDS ?? 5);
const CONNECTIONS = 8;

function report(name: string, r: LoadResult, kind: 'saturation' | 'fixed'): void {
  if (kind === 'saturation') figure(`${name}.throughput`, r.perSecond, 'req/s');
  figure(`${name}.${kind}.p50`, r.p50, 'ms');
  figure(`${name}.${kind}.p99`, r.p99, 'ms');
  figure(`${name}.${kind}.n`, r.requests, 'requests');
  if (r.non2xx > 0 || r.errors > 0) note(`${name} ${kind}: ${r.non2xx} non-2xx, ${r.errors} errors, statuses ${JSON.stringify(r.statuses)}`);
}

async function main(): Promise<void> {
  const env = await benchSchema('ingest');
  const api = await spawnServer('api', env.env);
  const bare = await spawnServer('bare');
  try {
    note(`ingest: ${CONNECTIONS} keep-alive connections, ${SECONDS} s per run after a warm-up, servers in their own processes`);
    // Warm-up: JIT, connection pools, validation definitions.
    await load({ url: api.url, path: '/v1/screenings', body: screeningRequest, connections: 4, amount: 40 });
    await load({ url: bare.url, path: '/v1/screenings', body: screeningRequest, connections: 4, amount: 200 });

    const apiSat = await load({ url: api.url, path: '/v1/screenings', body: screeningRequest, connections: CONNECTIONS, duration: SECONDS });
    const bareSat = await load({ url: bare.url, path: '/v1/screenings', body: screeningRequest, connections: CONNECTIONS, duration: SECONDS });
    report('ingest.screenings', apiSat, 'saturation');
    report('ingest.screenings.bare_express', bareSat, 'saturation');
    ratio('ingest.screenings.ratio_vs_bare_express', apiSat.perSecond / bareSat.perSecond);

    // A fixed 100 req/s, whatever the saturation: the latency a clinic's burst sees.
    const rate100 = await load({ url: api.url, path: '/v1/screenings', body: screeningRequest, connections: CONNECTIONS, duration: SECONDS, overallRate: 100 });
    figure('ingest.screenings.rate100.p50', rate100.p50, 'ms');
    figure('ingest.screenings.rate100.p99', rate100.p99, 'ms');
    figure('ingest.screenings.rate100.per_s', rate100.perSecond, 'req/s');
    figure('ingest.screenings.rate100.n', rate100.requests, 'requests');
    if (rate100.non2xx > 0 || rate100.errors > 0) note(`ingest.screenings rate100: ${rate100.non2xx} non-2xx, ${rate100.errors} errors, statuses ${JSON.stringify(rate100.statuses)}`);

    const rate = Math.max(2, Math.floor(apiSat.perSecond / 2));
    note(`ingest fixed rate: ${rate} req/s (half the API's screening saturation), ${SECONDS} s`);
    const apiFixed = await load({ url: api.url, path: '/v1/screenings', body: screeningRequest, connections: CONNECTIONS, duration: SECONDS, overallRate: rate });
    const bareFixed = await load({ url: bare.url, path: '/v1/screenings', body: screeningRequest, connections: CONNECTIONS, duration: SECONDS, overallRate: rate });
    report('ingest.screenings', apiFixed, 'fixed');
    report('ingest.screenings.bare_express', bareFixed, 'fixed');
    ratio('ingest.screenings.fixed.p50_ratio_vs_bare_express', apiFixed.p50 / Math.max(bareFixed.p50, 0.001));

    // Dosing sessions: each request needs a course of its own, created beforehand.
    const satAmount = Math.max(60, Math.round(apiSat.perSecond * SECONDS));
    const fixedAmount = rate * SECONDS;
    const needed = 10 + satAmount + fixedAmount;
    const t0 = performance.now();
    const courses = await pool(Array.from({ length: needed }), 4, async () => {
      const s = await postJson(`${api.url}/v1/screenings`, screeningRequest());
      const c = await postJson(`${api.url}/v1/courses`, { screeningId: s.body.screeningId });
      if (c.status !== 201) throw new Error(`course: ${c.status} ${JSON.stringify(c.body)}`);
      return c.body.courseId as string;
    });
    note(`dosing: ${needed} courses created beforehand in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    let next = 0;
    const coursePath = (): string => `/v1/courses/${courses[next++ % courses.length]}/dosing-sessions`;
    const session = (): unknown => sessionRequest(1);
    await load({ url: api.url, path: coursePath, body: session, connections: 2, amount: 10 });
    await load({ url: bare.url, path: '/v1/courses/x/dosing-sessions', body: session, connections: 2, amount: 200 });
    const apiDose = await load({ url: api.url, path: coursePath, body: session, connections: CONNECTIONS, amount: satAmount });
    const bareDose = await load({ url: bare.url, path: '/v1/courses/x/dosing-sessions', body: session, connections: CONNECTIONS, duration: SECONDS });
    report('ingest.dosing_sessions', apiDose, 'saturation');
    report('ingest.dosing_sessions.bare_express', bareDose, 'saturation');
    ratio('ingest.dosing_sessions.ratio_vs_bare_express', apiDose.perSecond / bareDose.perSecond);
    const apiDoseFixed = await load({ url: api.url, path: coursePath, body: session, connections: CONNECTIONS, amount: fixedAmount, overallRate: rate });
    const bareDoseFixed = await load({ url: bare.url, path: '/v1/courses/x/dosing-sessions', body: session, connections: CONNECTIONS, duration: SECONDS, overallRate: rate });
    report('ingest.dosing_sessions', apiDoseFixed, 'fixed');
    report('ingest.dosing_sessions.bare_express', bareDoseFixed, 'fixed');
    ratio('ingest.dosing_sessions.fixed.p50_ratio_vs_bare_express', apiDoseFixed.p50 / Math.max(bareDoseFixed.p50, 0.001));
    if (next > courses.length) note(`dosing: ${next - courses.length} requests reused a course (409s)`);
  } finally {
    await api.stop();
    await bare.stop();
    await env.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
