/**
 * 5. Concurrency: 50 identical screening submissions at once (one hospital identifier)
 * against the API listening on loopback, (a) without an Idempotency-Key and (b) all with the
 * same key; then the worker starts, the outbox drains, and the EHR is audited: one Patient,
 * nothing duplicated, nothing lost. Baseline, same run: as many submissions at once for
 * different patients (the burst only). A fresh stack per case.
 */
import { randomUUID } from 'node:crypto';
import { auditEhr, ehrAll } from '@kap/testkit/ehr-audit';
import { screeningRequest } from '@kap/testkit/requests';
import { postJson } from '@kap/testkit/bodies';
import { RUNS, figure, note, spread } from './lib/report';
import { run, withStack } from '@kap/testkit/stack-bench';

/** BENCH_CONCURRENCY_BURST changes the burst size. */
const BURST = Number(process.env.BENCH_CONCURRENCY_BURST ?? 50);
const ENV = {
  FOLLOW_UP_OFFSETS: 'PT1H,PT2H,PT3H',
  JOB_LOCK_MS: '30000',
  SYNC_LEASE_MS: '120000',
  EHR_TIMEOUT_MS: '15000',
  REDISPATCH_AFTER_MS: '30000',
};

type Case = 'distinct_patients' | 'same_patient_no_key' | 'same_patient_same_key';

/** Over every run: resources missing from the EHR, and duplicated there (a second Patient included). */
let lost = 0;
let duplicated = 0;

async function runCase(c: Case): Promise<{ burstSeconds: number; totalSeconds: number }> {
  const drain = c !== 'distinct_patients';
  return withStack(ENV, async (stack, url) => {
    const one = screeningRequest();
    const key = randomUUID();
    const bodies = Array.from({ length: BURST }, () => (c === 'distinct_patients' ? screeningRequest() : one));
    const headers: Record<string, string> = c === 'same_patient_same_key' ? { 'Idempotency-Key': key } : {};
    const t0 = performance.now();
    const statuses = await Promise.all(
      bodies.map((body) =>
        postJson(`${url}/v1/screenings`, body, headers).then(
          (r) => String(r.status),
          (err: Error) => `network:${err.message}`,
        ),
      ),
    );
    const burstSeconds = (performance.now() - t0) / 1000;
    const seen: Record<string, number> = {};
    for (const s of statuses) seen[s] = (seen[s] ?? 0) + 1;
    note(`${c}: statuses ${JSON.stringify(seen)}`);
    figure(`concurrency.${c}.accepted`, (seen['200'] ?? 0) + (seen['201'] ?? 0), 'requests');
    figure(`concurrency.${c}.burst_seconds`, burstSeconds, 's');
    if (!drain) return { burstSeconds, totalSeconds: NaN };
    stack.startWorker(`bench-${c}`);
    await stack.drained(60_000);
    const totalSeconds = (performance.now() - t0) / 1000;
    const audit = await auditEhr(stack.db, stack.sandbox.url);
    const patients = (await ehrAll(stack.sandbox.url, 'Patient')).filter((p) =>
      (p as { identifier?: Array<{ system?: string; value?: string }> }).identifier?.some(
        (i) => i.system === one.patient.system && i.value === one.patient.value,
      ),
    ).length;
    const screenings = (await stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM screenings'))[0]?.n ?? 0;
    figure(`concurrency.${c}.patients_in_ehr`, patients, 'patients');
    figure(`concurrency.${c}.duplicated`, audit.duplicates.length, 'resources');
    figure(`concurrency.${c}.lost`, audit.missing.length, 'resources');
    lost += audit.missing.length;
    duplicated += audit.duplicates.length + Math.max(0, patients - 1);
    figure(`concurrency.${c}.screenings_stored`, screenings, 'screenings');
    figure(`concurrency.${c}.total_seconds`, totalSeconds, 's');
    if (audit.missing.length + audit.duplicates.length > 0)
      note(`${c}: missing ${JSON.stringify(audit.missing.slice(0, 5))} duplicated ${JSON.stringify(audit.duplicates.slice(0, 5))}`);
    return { burstSeconds, totalSeconds };
  });
}

async function main(): Promise<void> {
  note(
    `concurrency: ${BURST} POST /v1/screenings at once per case, then the worker starts and the outbox drains; total = burst start to drained; the three cases ${RUNS} times (fresh stack each)`,
  );
  const ratios: Record<string, number[]> = { same_patient_no_key: [], same_patient_same_key: [] };
  for (let i = 0; i < RUNS; i++) {
    const base = await runCase('distinct_patients');
    for (const c of ['same_patient_no_key', 'same_patient_same_key'] as const) {
      const r = await runCase(c);
      ratios[c]?.push(r.burstSeconds / base.burstSeconds);
    }
  }
  for (const [c, values] of Object.entries(ratios)) spread(`concurrency.${c}.burst_ratio_vs_distinct_patients`, values, 'x');
  figure('concurrency.lost', lost, 'resources');
  figure('concurrency.duplicated', duplicated, 'resources');
}

run(main);
