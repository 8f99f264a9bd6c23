// `npm run ehr:subscribe`: asks the EHR (EHR_BASE_URL, else the embedded sandbox) to notify this
// service of Patient and Encounter changes, with R4-backport Subscriptions whose rest-hook is
// PUBLIC_BASE_URL/v1/ehr-notifications. Running it again creates nothing new.
import { ehrBaseUrl, loadConfig, publicBaseUrl } from '@kap/config';
import { backportSubscription } from '@kap/inbound';
import { connectEhr, ensureEhrSubscriptions } from '@kap/worker';

const config = loadConfig(process.env);
// A JWT your issuer minted for the EHR's client with kap/v1.write (and the tenant claim, with tenants).
const token = process.env.EHR_SUBSCRIPTION_TOKEN;
const settings = {
  endpoint: `${publicBaseUrl(config)}/v1/ehr-notifications`,
  content: config.EHR_SUBSCRIPTION_CONTENT,
  heartbeatSeconds: 3600,
  // The EHR presents this with every notification; the API checks it like any caller's token.
  ...(token ? { header: `Authorization: Bearer ${token}` } : {}),
};
const subscriptions = [
  backportSubscription({ resourceType: 'Patient', topic: config.EHR_SUBSCRIPTION_TOPIC_PATIENT }, settings),
  backportSubscription({ resourceType: 'Encounter', topic: config.EHR_SUBSCRIPTION_TOPIC_ENCOUNTER, filter: 'Encounter?status=finished' }, settings),
];
// Its token also asks for Subscription, which the sync itself never writes.
const ehr = connectEhr(config, { manages: ['Subscription'], userAgent: 'kap-ehr-subscribe' });
try {
  const results = await ensureEhrSubscriptions(ehr, subscriptions);
  console.log(`Subscriptions on ${ehrBaseUrl(config)} (rest-hook ${settings.endpoint}, ${settings.content}):`);
  for (const r of results) console.log(`  ${r.status.padEnd(12)} ${r.location ?? ''}  topic ${r.criteria}`);
} catch (err) {
  console.error(`ehr:subscribe failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
