// EHR preflight for hospital IT: `npm run ehr:check` (after `npm run build`), with the same
// EHR_* settings as the worker; `npm run ehr:check -- --write-test` also writes a synthetic,
// tagged test screening and reads it back. With a tenants file, `--tenant ID` checks that
// tenant's EHR and `--all` every tenant's. Exit code 0 only when every EHR checked can take a screening.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../services/worker/dist/ehr-check.js', import.meta.url));
if (!existsSync(dist)) {
  console.error('The worker is not built yet: run `npm run build` first, then `npm run ehr:check` again.');
  process.exit(2);
}
const { loadProcessSettings } = await import('@kap/runtime');
const { runEhrCheck } = await import(dist);
const { chooseTenants, parseTenantArgs, runPerTenant } = await import(
  fileURLToPath(new URL('../services/worker/dist/tenant-ops.js', import.meta.url))
);

const usage = 'Usage: npm run ehr:check [-- [--tenant ID | --all] [--write-test]]';
let args;
let choice;
try {
  args = parseTenantArgs(process.argv.slice(2));
  const unknown = args.rest.filter((a) => a !== '--write-test');
  if (unknown.length > 0) throw new Error(`Unknown option(s): ${unknown.join(' ')}. ${usage}`);
  choice = chooseTenants(loadProcessSettings(process.env).tenants, args);
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(2);
}
const out = (line) => process.stdout.write(`${line}\n`);
const writeTest = args.rest.includes('--write-test');
process.exitCode = await runPerTenant(choice, out, (tenant) => runEhrCheck(tenant.config, { writeTest, out }));
