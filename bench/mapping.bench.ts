/**
 * 4. Mapping: screenings mapped to FHIR and validated per second
 * (`buildScreeningResources`, which validates every resource it builds), against the same
 * mapping with validation stubbed out (see bench/register.js), each side in a fresh process,
 * and against a JSON round trip of the same resources.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { ScreeningRequest } from '@kap/contracts';
import { DEFAULT_SCREENING_RULES, evaluateScreening } from '@kap/domain';
import { buildPatient, buildScreeningResources, validationIssues } from '@kap/fhir';
import type { Resource } from '@medplum/fhirtypes';
import { screeningRequest } from '@kap/testkit/requests';
import { RUNS, figure, note, ratio, spread, timedLoop } from './lib/report';

const DURATION_MS = Number(process.env.BENCH_MAPPING_MS ?? 2000);

function inputs(): Array<() => Resource[]> {
  const variants: Array<Partial<ScreeningRequest>> = [
    {},
    { contraindications: { recurrentCystitis: true, obesityAnestheticRisk: true } },
    { vitals: { systolic: 168, diastolic: 98, heartRate: 91, spo2: 95 }, consent: { informed: false } },
    { measures: { phq9: [3, 3, 2, 2, 1, 3, 2, 1, 0] }, contraindications: { activePsychosis: true } },
  ];
  const recordedAt = new Date().toISOString();
  return Array.from({ length: 32 }, (_, i) => {
    const request = screeningRequest(variants[i % variants.length]);
    const evaluation = evaluateScreening({ contraindications: request.contraindications, vitals: request.vitals }, DEFAULT_SCREENING_RULES);
    const patient = { ...buildPatient(request.patient, 'default'), id: randomUUID() };
    return () => buildScreeningResources({ screeningId: randomUUID(), request, evaluation, patient, recordedAt });
  });
}

/** Screenings mapped per second, with whatever validate.ts this process loaded. */
function measureMapping(): { perSecond: number; n: number; resourcesPerScreening: number } {
  const builds = inputs();
  let i = 0;
  let resources = 0;
  const { n, seconds } = timedLoop(() => {
    resources += (builds[i++ % builds.length] as () => Resource[])().length;
  }, DURATION_MS);
  return { perSecond: n / seconds, n, resourcesPerScreening: resources / Math.max(1, n) };
}

function main(): void {
  if (process.env.KAP_BENCH_MAPPING_CHILD === '1') {
    process.stdout.write(JSON.stringify(measureMapping()));
    return;
  }
  note(
    `mapping: ${DURATION_MS} ms per figure after 500 ms warm-up, each in a fresh process; the validated/unvalidated pair ${RUNS} times (about ${Math.round((RUNS * 2 * (DURATION_MS + 500)) / 1000)} s)`,
  );
  const validatedRates: number[] = [];
  const unvalidatedRates: number[] = [];
  let validated: ReturnType<typeof measureMapping> | undefined;
  // Both sides in a fresh process of their own, one after the other: the validated side had run
  // in this long-lived process (its heap grown run after run) against a fresh child, and the
  // ratio moved with that, not with the code.
  const inChild = (stub: boolean): ReturnType<typeof measureMapping> => {
    const child = spawnSync(process.execPath, ['-r', resolve(__dirname, 'register.js'), __filename], {
      env: { ...process.env, KAP_BENCH_MAPPING_CHILD: '1', KAP_BENCH_STUB_VALIDATE: stub ? '1' : '0' },
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(`mapping child (${stub ? 'unvalidated' : 'validated'}) failed: ${child.stderr}`);
    return JSON.parse(child.stdout) as ReturnType<typeof measureMapping>;
  };
  for (let run = 0; run < RUNS; run++) {
    validated = inChild(false);
    const unvalidated = inChild(true);
    validatedRates.push(validated.perSecond);
    unvalidatedRates.push(unvalidated.perSecond);
  }
  spread('mapping.screenings_validated_per_s', validatedRates, 'screenings/s');
  spread('mapping.screenings_unvalidated_per_s', unvalidatedRates, 'screenings/s');
  if (validated) figure('mapping.resources_per_screening', validated.resourcesPerScreening, 'resources');
  spread(
    'mapping.ratio_validated_vs_unvalidated',
    validatedRates.map((v, i) => v / (unvalidatedRates[i] as number)),
    'x',
    { kind: 'min', value: 0.5 },
  );
  const median = [...validatedRates].sort((a, b) => a - b)[Math.floor(validatedRates.length / 2)] as number;

  // Validation alone, of the resources of one screening, as the builders run it.
  const sample = inputs().map((b) => b());
  let k = 0;
  const v = timedLoop(() => {
    for (const r of sample[k++ % sample.length] as Resource[]) validationIssues(r);
  }, DURATION_MS);
  figure('mapping.validation_only_screenings_per_s', v.n / v.seconds, 'screenings/s');

  // Baseline: a JSON round trip of the same resources (the least any mapping must do).
  let j = 0;
  const rt = timedLoop(() => {
    JSON.parse(JSON.stringify(sample[j++ % sample.length]));
  }, DURATION_MS);
  figure('mapping.json_roundtrip_per_s', rt.n / rt.seconds, 'screenings/s');
  ratio('mapping.ratio_validated_vs_json_roundtrip', median / (rt.n / rt.seconds));
}

main();
