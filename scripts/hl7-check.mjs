// HL7 v2 preflight for hospital IT: `npm run hl7:check` (after `npm run build`), with the same
// HL7_OUT_* settings as the worker: sends one test-tagged (MSH-11 T) ORU^R01 of a synthetic
// patient to the interface engine and prints its ACK. Exit code 0 only on AA.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../services/worker/dist/hl7-check.js', import.meta.url));
if (!existsSync(dist)) {
  console.error('The worker is not built yet: run `npm run build` first, then `npm run hl7:check` again.');
  process.exit(2);
}
const { loadConfig } = await import('@kap/config');
const { runHl7Check } = await import(dist);

if (process.argv.length > 2) {
  console.error(`Unknown option(s): ${process.argv.slice(2).join(' ')}. Usage: npm run hl7:check`);
  process.exit(2);
}
let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(2);
}
process.exitCode = await runHl7Check(config);
