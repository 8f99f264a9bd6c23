// `npm run test:real-ehr`: the whole course against the real EHR the environment names, in the
// shape EHR administrators hand out (EHR_FHIR_BASE_URL, EHR_TOKEN_URL, EHR_CLIENT_ID and
// EHR_CLIENT_SECRET; EHR_SMART_CLIENT_ID, EHR_SMART_KEY_FILE and EHR_SMART_KID for SMART
// Backend Services). Without one it says so and exits 0, claiming nothing.
import { spawnSync } from 'node:child_process';

const base = process.env.EHR_FHIR_BASE_URL?.trim();
const clientCredentials = Boolean(process.env.EHR_CLIENT_ID && process.env.EHR_CLIENT_SECRET);
const smartBackend = Boolean(process.env.EHR_SMART_CLIENT_ID && process.env.EHR_SMART_KEY_FILE && process.env.EHR_SMART_KID);
if (!base || !process.env.EHR_TOKEN_URL || (!clientCredentials && !smartBackend)) {
  console.log(
    'test:real-ehr: no real EHR configured (set EHR_FHIR_BASE_URL, EHR_TOKEN_URL and EHR_CLIENT_ID/EHR_CLIENT_SECRET or EHR_SMART_*).',
  );
  console.log('test:real-ehr: nothing was run, so nothing passed.');
  process.exit(0);
}
console.log(
  `test:real-ehr: ${base} with ${[clientCredentials && 'client-credentials', smartBackend && 'smart-backend'].filter(Boolean).join(' and ')}`,
);
const jest = spawnSync('npx', ['jest', '--ci', '--config', 'jest.real-ehr.config.js', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(jest.status ?? 1);
