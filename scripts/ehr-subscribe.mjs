// `npm run ehr:subscribe`: asks the EHR (EHR_BASE_URL, else the embedded sandbox) to notify this
// service of deaths and finished Encounters at PUBLIC_BASE_URL/v1/ehr-notifications: classic R4
// Subscriptions or the R4 backport, as EHR_SUBSCRIPTION_STYLE (or the EHR's CapabilityStatement)
// says. Running it again creates nothing new. With a tenants file, `--tenant ID` subscribes at that
// tenant's EHR and `--all` at every tenant's.
import { ehrBaseUrl, publicBaseUrl } from '@kap/config';
import { loadProcessSettings } from '@kap/runtime';
import { chooseTenants, connectEhr, notificationTokenIssuer, parseTenantArgs, runPerTenant, subscribeToEhr } from '@kap/worker';

const usage = 'Usage: npm run ehr:subscribe [-- [--tenant ID | --all]]';
let args;
let choice;
try {
  args = parseTenantArgs(process.argv.slice(2));
  if (args.rest.length > 0) throw new Error(`Unknown option(s): ${args.rest.join(' ')}. ${usage}`);
  choice = chooseTenants(loadProcessSettings(process.env).tenants, args);
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(2);
}
const out = (line) => process.stdout.write(`${line}\n`);
process.exitCode = await runPerTenant(choice, out, async (tenant) => {
  const config = tenant.config;
  // A JWT your issuer minted for the EHR's client with kap/v1.write (and the tenant claim, with tenants);
  // with EHR_SUBSCRIPTION_TOKEN_URL, one is asked of the issuer, and the worker renews it before it expires.
  const token = config.EHR_SUBSCRIPTION_TOKEN_URL ? await notificationTokenIssuer(tenant)() : config.EHR_SUBSCRIPTION_TOKEN;
  const endpoint = `${publicBaseUrl(config)}/v1/ehr-notifications`;
  // Its token also asks for Subscription, which the sync itself never writes.
  const ehr = connectEhr(config, { manages: ['Subscription'], userAgent: 'kap-ehr-subscribe' });
  try {
    const outcome = await subscribeToEhr(ehr, config, { endpoint, ...(token ? { token } : {}) });
    out(`Subscriptions on ${ehrBaseUrl(config)}: ${outcome.style} (${outcome.reason}), rest-hook ${endpoint}`);
    for (const s of outcome.subscriptions) out(`  ${s.status.padEnd(8)} ${s.location ?? ''}  criteria ${s.criteria}`);
    if (!token && config.AUTH_MODE === 'jwt')
      out(
        '  warning: no EHR_SUBSCRIPTION_TOKEN (nor EHR_SUBSCRIPTION_TOKEN_URL): the EHR sends no Authorization header, and the API (AUTH_MODE=jwt) refuses its notifications.',
      );
    if (token && !config.EHR_SUBSCRIPTION_TOKEN_URL)
      out(
        '  note: a fixed EHR_SUBSCRIPTION_TOKEN expires and nothing renews it: set EHR_SUBSCRIPTION_TOKEN_URL (with its client) for the worker to renew it, or run this again with a new token before it expires.',
      );
    return 0;
  } catch (err) {
    out(`  FAIL  ehr:subscribe failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
});
