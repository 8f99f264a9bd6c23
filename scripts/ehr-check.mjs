// EHR preflight for hospital IT: `npm run ehr:check` (after `npm run build`), with the same
// EHR_* settings as the worker; `npm run ehr:check -- --write-test` also writes a synthetic,
// tagged test screening and reads it back. Exit code 0 only when the EHR can take a screening.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../services/worker/dist/ehr-check.js', import.meta.url));
if (!existsSync(dist)) {
  console.error('The worker is not built yet: run `npm run build` first, then `npm run ehr:check` again.');
  process.exit(2);
}
const { loadConfig } = await import('@kap/config');
const { runEhrCheck } = await import(dist);

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== '--write-test');
if (unknown.length > 0) {
  console.error(`Unknown option(s): ${unknown.join(' ')}. Usage: npm run ehr:check [-- --write-test]`);
  process.exit(2);
}
let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(2);
}
process.exitCode = await runEhrCheck(config, { writeTest: args.includes('--write-test'), hl7OutHost: process.env.HL7_OUT_HOST || undefined });
