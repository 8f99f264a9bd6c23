'use strict';
/**
 * `npm run bench [-- name ...]`: runs each bench/*.bench.ts in its own process, in order,
 * and passes their output through. Needs PostgreSQL and Redis as the tests do, and a build
 * (the script builds first) for the worker process some benchmarks spawn.
 */
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const ALL = ['mapping', 'ingest', 'fuzz', 'drill', 'sync', 'scheduling', 'concurrency', 'real-ehr'];
const wanted = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ALL;
let failed = 0;
const t0 = Date.now();
for (const name of wanted) {
  const started = Date.now();
  process.stdout.write(`# --- ${name}\n`);
  const r = spawnSync(process.execPath, ['-r', path.join(__dirname, 'register.js'), path.join(__dirname, `${name}.bench.ts`)], {
    stdio: 'inherit',
  });
  process.stdout.write(`# ${name}: ${((Date.now() - started) / 1000).toFixed(1)} s, exit ${r.status}\n`);
  if (r.status !== 0) failed++;
}
process.stdout.write(`# bench total: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
process.exit(failed > 0 ? 1 : 0);
