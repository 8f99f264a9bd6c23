// `npm run ehr:subscribe`: asks the EHR (EHR_BASE_URL, else the embedded sandbox) to notify this
// service of deaths and finished Encounters at PUBLIC_BASE_URL/v1/ehr-notifications: classic R4
// Subscriptions or the R4 backport, as EHR_SUBSCRIPTION_STYLE (or the EHR's CapabilityStatement)
// says. Running it again creates nothing new.
import { ehrBaseUrl, loadConfig, publicBaseUrl } from '@kap/config';
import { connectEhr, subscribeToEhr } from '@kap/worker';

const config = loadConfig(process.env);
// A JWT your issuer minted for the EHR's client with kap/v1.write (and the tenant claim, with tenants).
const token = process.env.EHR_SUBSCRIPTION_TOKEN;
const endpoint = `${publicBaseUrl(config)}/v1/ehr-notifications`;
// Its token also asks for Subscription, which the sync itself never writes.
const ehr = connectEhr(config, { manages: ['Subscription'], userAgent: 'kap-ehr-subscribe' });
try {
  const outcome = await subscribeToEhr(ehr, config, { endpoint, ...(token ? { token } : {}) });
  console.log(`Subscriptions on ${ehrBaseUrl(config)}: ${outcome.style} (${outcome.reason}), rest-hook ${endpoint}`);
  for (const s of outcome.subscriptions) console.log(`  ${s.status.padEnd(8)} ${s.location ?? ''}  criteria ${s.criteria}`);
  if (!token && config.AUTH_MODE === 'jwt') console.log('  warning: EHR_SUBSCRIPTION_TOKEN is not set: the EHR sends no Authorization header, and the API (AUTH_MODE=jwt) refuses its notifications.');
} catch (err) {
  console.error(`ehr:subscribe failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
