/**
 * 1. Ingest: POST /v1/screenings and POST /v1/courses/{id}/dosing-sessions on the real API
 * (its own process, production wiring: PostgreSQL, the Redis check), at saturation and at a
 * fixed rate (half its saturation, and 100 req/s), against two baselines in their own
 * processes, in the same run: saturation with autocannon over keep-alive connections, fixed
 * rates open loop (bench/lib/http-load.ts openLoop: evenly spaced arrivals, latency from when
 * each request was due):
 * - the database's own limit (`dblimit`, bench/lib/db-limit.ts): the same express shape
 *   replaying, per request, the SQL the API ran for one such request (captured at the pg
 *   driver at the start of this run), with fresh ids: the honest ceiling for a command that
 *   must durably write its rows;
 * - a bare express app that parses the same JSON (what HTTP alone costs).
 * Each ratio is taken RUNS times (BENCH_RUNS, default 5) and reported as min/median/max; a
 * goal holds only at its worst run. Also: round trips and statements per command, and where
 * PostgreSQL spends the time (EXPLAIN (ANALYZE, BUFFERS) of each captured statement, or
 * pg_stat_statements where it is loaded).
 * The SQL alone is also held at the API's fixed 100 req/s (`db_limit.rate100.p99`): the floor
 * under the API's p99 there.
 * Time: about RUNS × (3 saturation runs + 2 fixed-rate runs) × SECONDS for screenings, the
 * dosing courses made beforehand (≈ RUNS × saturation × SECONDS enrolments), and the dosing runs.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Pool } from 'pg';
import { screeningRequest } from '@kap/testkit/requests';
import { pool, postJson, sessionRequest } from '@kap/testkit/bodies';
import type { DbLimitScripts } from './lib/db-limit';
import { benchSchema } from '@kap/testkit/env';
import { load, openLoop, spawnServer, type LoadResult, type SpawnedServer } from './lib/http-load';
import { RUNS, figure, note, spread } from './lib/report';
import { FreshValues, countCalls, replay, storePg, type CapturedCall } from './lib/sql-capture';

const SECONDS = Number(process.env.BENCH_INGEST_SECONDS ?? 5);
const CONNECTIONS = 8;
/** Requests each server takes before the first timed run, for each command. */
const WARM_UP = 100;

function report(name: string, r: LoadResult, kind: 'saturation' | 'fixed'): void {
  if (kind === 'saturation') figure(`${name}.throughput`, r.perSecond, 'req/s');
  figure(`${name}.${kind}.p50`, r.p50, 'ms');
  figure(`${name}.${kind}.p99`, r.p99, 'ms');
  figure(`${name}.${kind}.n`, r.requests, 'requests');
  problems(`${name} ${kind}`, r);
}

function problems(what: string, r: LoadResult): void {
  if (r.non2xx > 0 || r.errors > 0) note(`${what}: ${r.non2xx} non-2xx, ${r.errors} errors, statuses ${JSON.stringify(r.statuses)}`);
}

function message<T>(child: ChildProcess, pick: (m: any) => T | undefined, send?: unknown): Promise<T> {
  return new Promise((ok, fail) => {
    const on = (m: unknown): void => {
      const v = pick(m);
      if (v === undefined) return;
      child.off('message', on);
      ok(v);
    };
    child.on('message', on);
    child.once('exit', (code) => fail(new Error(`server exited with ${code}`)));
    if (send !== undefined) child.send(send as string);
  });
}

/** One screening, its course and a dosing session on a capturing API: the driver calls of each, warm. */
async function captureScripts(env: Record<string, string>): Promise<DbLimitScripts> {
  const api = await spawnServer('api', { ...env, BENCH_CAPTURE_SQL: '1' });
  try {
    const captured = async (fn: () => Promise<void>): Promise<CapturedCall[]> => {
      await message(api.child, (m: { captureStarted?: boolean }) => m?.captureStarted, 'capture-start');
      await fn();
      return message(api.child, (m: { captured?: CapturedCall[] }) => m?.captured, 'capture-stop');
    };
    // Warm: caches the first request fills (tenants, definitions) are not a command's cost.
    for (let i = 0; i < 3; i++) {
      const s = await postJson(`${api.url}/v1/screenings`, screeningRequest());
      const c = await postJson(`${api.url}/v1/courses`, { screeningId: s.body.screeningId });
      await postJson(`${api.url}/v1/courses/${c.body.courseId}/dosing-sessions`, sessionRequest(1));
    }
    const request = screeningRequest();
    let screeningId = '';
    let courseId = '';
    const screening = await captured(async () => {
      const s = await postJson(`${api.url}/v1/screenings`, request);
      if (s.status !== 201) throw new Error(`capture screening: ${s.status}`);
      screeningId = s.body.screeningId as string;
    });
    const course = await captured(async () => {
      const c = await postJson(`${api.url}/v1/courses`, { screeningId });
      if (c.status !== 201) throw new Error(`capture course: ${c.status}`);
      courseId = c.body.courseId as string;
    });
    const session = await captured(async () => {
      const d = await postJson(`${api.url}/v1/courses/${courseId}/dosing-sessions`, sessionRequest(1));
      if (d.status !== 201) throw new Error(`capture session: ${d.status} ${JSON.stringify(d.body).slice(0, 200)}`);
    });
    return { screening, course, session, renamed: [request.patient.value] };
  } finally {
    await api.stop();
  }
}

/**
 * PostgreSQL's own view of a command: pg_stat_statements when the server preloads it (this
 * bench never restarts a shared server for it); otherwise each captured statement under
 * EXPLAIN (ANALYZE, BUFFERS), replayed in order with fresh ids in one transaction rolled back.
 */
async function whereTheTimeGoes(db: Pool, scripts: DbLimitScripts, grown = false): Promise<void> {
  // Grown: the same statements again once the runs have filled the tables, where a statement
  // that scans (rather than seeks) shows as a time that grew with them.
  const suffix = grown ? '_grown' : '';
  if (grown) {
    const [sized] = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM resources')).rows;
    note(`the same statements with the tables grown by the runs: ${sized?.n ?? 0} resources`);
  }
  const preload =
    (await db.query<{ shared_preload_libraries: string }>('SHOW shared_preload_libraries')).rows[0]?.shared_preload_libraries ?? '';
  if (preload.includes('pg_stat_statements'))
    note(
      'pg_stat_statements is preloaded; its mean times for these statements are in pg_stat_statements (not reset here: the server is shared)',
    );
  else
    note(
      'pg_stat_statements is not preloaded on this server (not restarted for it): EXPLAIN (ANALYZE, BUFFERS) of each captured statement, once, rolled back',
    );
  const explain = async (label: string, calls: readonly CapturedCall[], fresh: FreshValues): Promise<void> => {
    const client = await db.connect();
    let total = 0;
    try {
      await client.query('BEGIN');
      for (const call of calls) {
        const text = fresh.apply(call.text).trim();
        if (/^(BEGIN|COMMIT|ROLLBACK)\b/i.test(text)) {
          // The tenant settings travel with BEGIN: keep them, inside this one transaction.
          const settings = text.replace(/^BEGIN;?\s*/i, '');
          if (settings) await client.query(settings);
          continue;
        }
        const values = call.values?.map((v) => (v === null ? null : fresh.apply(v)));
        if (!/^(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i.test(text)) {
          await client.query(text, values);
          note(`  ${label}: (not explainable) ${text.replace(/\s+/g, ' ').slice(0, 90)}`);
          continue;
        }
        const r = await client.query<{
          'QUERY PLAN': Array<{ Plan: Record<string, number>; 'Execution Time': number; 'Planning Time': number }>;
        }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`, values);
        const plan = r.rows[0]?.['QUERY PLAN'][0];
        if (!plan) continue;
        const ms = plan['Execution Time'] + plan['Planning Time'];
        total += ms;
        const p = plan.Plan;
        note(
          `  ${label}: ${ms.toFixed(3)} ms (plan ${plan['Planning Time'].toFixed(3)}), buffers hit ${p['Shared Hit Blocks'] ?? 0} read ${p['Shared Read Blocks'] ?? 0} dirtied ${p['Shared Dirtied Blocks'] ?? 0} written ${p['Shared Written Blocks'] ?? 0}: ${text.replace(/\s+/g, ' ').slice(0, 90)}`,
        );
      }
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
    figure(`ingest.${label}${suffix}.db_statement_ms`, total, 'ms');
  };
  const fresh = new FreshValues(scripts.renamed);
  await explain('screenings', scripts.screening, fresh);
  // The session needs its screening and course committed first.
  const course = new FreshValues(scripts.renamed);
  await replay(db, scripts.screening, course);
  await replay(db, scripts.course, course);
  await explain('dosing_sessions', scripts.session, course);
  note('statement times exclude the round trips and commits (fsync) a command also waits for');
}

async function prepareDbLimitCourses(server: SpawnedServer, n: number): Promise<void> {
  const r = await message(
    server.child,
    (m: { prepared?: number; prepareFailed?: string }) => (m?.prepared !== undefined || m?.prepareFailed !== undefined ? m : undefined),
    { prepare: n },
  );
  if (r.prepareFailed) throw new Error(`db limit courses: ${r.prepareFailed}`);
}

async function main(): Promise<void> {
  const env = await benchSchema('ingest');
  const scripts = await captureScripts(env.env);
  for (const [label, calls] of [
    ['screenings', scripts.screening],
    ['courses', scripts.course],
    ['dosing_sessions', scripts.session],
  ] as const) {
    const c = countCalls(calls);
    figure(`ingest.${label}.round_trips_per_command`, c.roundTrips, 'round trips');
    figure(`ingest.${label}.statements_per_command`, c.statements, 'statements');
    figure(`ingest.${label}.transactions_per_command`, c.transactions, 'transactions');
  }
  const scriptFile = join(tmpdir(), `kap-bench-dblimit-${process.pid}.json`);
  writeFileSync(scriptFile, JSON.stringify(scripts));
  const { Pool } = storePg();
  const explainPool = new Pool({ connectionString: env.env.DATABASE_URL, max: 1, options: `-c search_path=${env.env.DATABASE_SCHEMA}` });
  await whereTheTimeGoes(explainPool, scripts).finally(() => explainPool.end());

  const api = await spawnServer('api', env.env);
  const bare = await spawnServer('bare');
  const dblimit = await spawnServer('dblimit', { ...env.env, BENCH_DBLIMIT_SCRIPTS: scriptFile });
  try {
    note(
      `ingest: ${CONNECTIONS} keep-alive connections, ${SECONDS} s per saturation run after a warm-up, ${RUNS} runs per ratio, servers in their own processes`,
    );
    // Each server warmed by as many requests (JIT, caches, pools), so the first run is not the cold one.
    await load({ url: api.url, path: '/v1/screenings', body: screeningRequest, connections: 4, amount: WARM_UP });
    await load({ url: bare.url, path: '/v1/screenings', body: screeningRequest, connections: 4, amount: WARM_UP });
    await load({ url: dblimit.url, path: '/v1/screenings', body: screeningRequest, connections: 4, amount: WARM_UP });

    const apiRates: number[] = [];
    const dbRates: number[] = [];
    const bareRates: number[] = [];
    const p99s: number[] = [];
    const dbP99s: number[] = [];
    let last: { api: LoadResult; db: LoadResult; bare: LoadResult } | undefined;
    for (let run = 0; run < RUNS; run++) {
      const a = await load({ url: api.url, path: '/v1/screenings', body: screeningRequest, connections: CONNECTIONS, duration: SECONDS });
      const d = await load({
        url: dblimit.url,
        path: '/v1/screenings',
        body: screeningRequest,
        connections: CONNECTIONS,
        duration: SECONDS,
      });
      const b = await load({ url: bare.url, path: '/v1/screenings', body: screeningRequest, connections: CONNECTIONS, duration: SECONDS });
      problems('ingest.screenings', a);
      problems('ingest.screenings.db_limit', d);
      apiRates.push(a.perSecond);
      dbRates.push(d.perSecond);
      bareRates.push(b.perSecond);
      // A fixed 100 req/s, whatever the saturation, arriving evenly (open loop): the latency a busy clinic sees.
      const r100 = await openLoop({ url: api.url, path: '/v1/screenings', body: screeningRequest, rate: 100, seconds: SECONDS });
      problems('ingest.screenings rate100', r100);
      p99s.push(r100.p99);
      // The same 100 req/s on the SQL alone: the least p99 the API can have there, whatever it does besides.
      const d100 = await openLoop({ url: dblimit.url, path: '/v1/screenings', body: screeningRequest, rate: 100, seconds: SECONDS });
      problems('ingest.screenings.db_limit rate100', d100);
      dbP99s.push(d100.p99);
      last = { api: a, db: d, bare: b };
    }
    spread('ingest.screenings.throughput', apiRates, 'req/s');
    spread('ingest.screenings.db_limit.throughput', dbRates, 'req/s');
    spread(
      'ingest.screenings.ratio_vs_db_limit',
      apiRates.map((a, i) => a / (dbRates[i] as number)),
      'x',
      { kind: 'min', value: 0.5 },
    );
    spread(
      'ingest.screenings.ratio_vs_bare_express',
      apiRates.map((a, i) => a / (bareRates[i] as number)),
      'x',
    );
    spread('ingest.screenings.rate100.p99', p99s, 'ms', { kind: 'max', value: 50 });
    spread('ingest.screenings.db_limit.rate100.p99', dbP99s, 'ms');
    if (last) {
      report('ingest.screenings', last.api, 'saturation');
      report('ingest.screenings.db_limit', last.db, 'saturation');
      report('ingest.screenings.bare_express', last.bare, 'saturation');
    }

    const median = [...apiRates].sort((x, y) => x - y)[Math.floor(apiRates.length / 2)] as number;
    const rate = Math.max(2, Math.floor(median / 2));
    note(`ingest fixed rate: ${rate} req/s (half the API's median screening saturation), ${SECONDS} s, once`);
    const apiFixed = await openLoop({ url: api.url, path: '/v1/screenings', body: screeningRequest, rate, seconds: SECONDS });
    const bareFixed = await openLoop({ url: bare.url, path: '/v1/screenings', body: screeningRequest, rate, seconds: SECONDS });
    report('ingest.screenings', apiFixed, 'fixed');
    report('ingest.screenings.bare_express', bareFixed, 'fixed');
    figure('ingest.screenings.fixed.p50_ratio_vs_bare_express', apiFixed.p50 / Math.max(bareFixed.p50, 0.001), 'x');

    // Dosing sessions: each request needs a course of its own, created beforehand, on both servers.
    const perRun = Math.max(60, Math.round(median * SECONDS));
    const needed = WARM_UP + perRun * RUNS;
    const t0 = performance.now();
    const courses = await pool(Array.from({ length: needed }), 4, async () => {
      const s = await postJson(`${api.url}/v1/screenings`, screeningRequest());
      const c = await postJson(`${api.url}/v1/courses`, { screeningId: s.body.screeningId });
      if (c.status !== 201) throw new Error(`course: ${c.status} ${JSON.stringify(c.body)}`);
      return c.body.courseId as string;
    });
    await prepareDbLimitCourses(dblimit, needed);
    note(
      `dosing: ${needed} courses created beforehand on each server in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${perRun} sessions per run`,
    );
    let next = 0;
    const coursePath = (): string => `/v1/courses/${courses[next++ % courses.length]}/dosing-sessions`;
    const session = (): unknown => sessionRequest(1);
    await load({ url: api.url, path: coursePath, body: session, connections: 4, amount: WARM_UP });
    await load({ url: dblimit.url, path: '/v1/courses/x/dosing-sessions', body: session, connections: 4, amount: WARM_UP });
    await load({ url: bare.url, path: '/v1/courses/x/dosing-sessions', body: session, connections: 4, amount: WARM_UP });
    const doseApi: number[] = [];
    const doseDb: number[] = [];
    const doseBare: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const a = await load({ url: api.url, path: coursePath, body: session, connections: CONNECTIONS, amount: perRun });
      const d = await load({
        url: dblimit.url,
        path: '/v1/courses/x/dosing-sessions',
        body: session,
        connections: CONNECTIONS,
        amount: perRun,
      });
      const b = await load({
        url: bare.url,
        path: '/v1/courses/x/dosing-sessions',
        body: session,
        connections: CONNECTIONS,
        duration: SECONDS,
      });
      problems('ingest.dosing_sessions', a);
      problems('ingest.dosing_sessions.db_limit', d);
      doseApi.push(a.perSecond);
      doseDb.push(d.perSecond);
      doseBare.push(b.perSecond);
    }
    spread('ingest.dosing_sessions.throughput', doseApi, 'req/s');
    spread('ingest.dosing_sessions.db_limit.throughput', doseDb, 'req/s');
    spread(
      'ingest.sessions.ratio_vs_db_limit',
      doseApi.map((a, i) => a / (doseDb[i] as number)),
      'x',
      { kind: 'min', value: 0.5 },
    );
    spread(
      'ingest.dosing_sessions.ratio_vs_bare_express',
      doseApi.map((a, i) => a / (doseBare[i] as number)),
      'x',
    );
    if (next > courses.length) note(`dosing: ${next - courses.length} requests reused a course (409s)`);
    const grownPool = new Pool({ connectionString: env.env.DATABASE_URL, max: 1, options: `-c search_path=${env.env.DATABASE_SCHEMA}` });
    await whereTheTimeGoes(grownPool, scripts, true).finally(() => grownPool.end());
  } finally {
    await api.stop();
    await bare.stop();
    await dblimit.stop();
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
