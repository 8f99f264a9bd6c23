import { sandboxPolicyFromEnv } from './fhir/policy';
import { startSandbox } from './start';

/**
 * Standalone entry point. The only file that reads the environment:
 * EHR_SANDBOX_PORT (default 3100), EHR_SANDBOX_HOST (default 127.0.0.1),
 * EHR_SANDBOX_BEARER_TOKEN (optional: require this static bearer token),
 * SANDBOX_PROFILE (default | no-transactions | limited-types | vitals-notes), SANDBOX_MAX_TRANSACTION_ENTRIES,
 * SANDBOX_MAX_TRANSACTION_UPDATES, SANDBOX_RESOURCE_TYPES, SANDBOX_NON_ATOMIC_TRANSACTIONS=true,
 * SANDBOX_GRANT_SCOPES (OAuth: scopes granted whatever is asked), SANDBOX_PROFILE_VALIDATION,
 * SANDBOX_LATENCY_MS (each interaction waits this long after its work, as an EHR's database would),
 * SANDBOX_REST_HOOKS (default true: fire classic rest-hook Subscriptions to endpoints on this machine).
 */
async function main(): Promise<void> {
  const port = Number(process.env.EHR_SANDBOX_PORT ?? 3100);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`EHR_SANDBOX_PORT must be a port number, got ${process.env.EHR_SANDBOX_PORT}`);
  }
  const host = process.env.EHR_SANDBOX_HOST ?? '127.0.0.1';
  const bearer = process.env.EHR_SANDBOX_BEARER_TOKEN;
  const running = await startSandbox({
    port,
    host,
    auth: bearer ? { mode: 'bearer', token: bearer } : { mode: 'none' },
    ...sandboxPolicyFromEnv(process.env),
    restHooks: process.env.SANDBOX_REST_HOOKS !== 'false',
  });
  console.log(JSON.stringify({ level: 'info', msg: 'ehr-sandbox listening', url: running.url, profile: running.sandbox.policy.profile }));

  let closing = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (closing) {
      return;
    }
    closing = true;
    running.close().then(
      () => {
        console.log(JSON.stringify({ level: 'info', msg: 'ehr-sandbox stopped', signal }));
        process.exit(0);
      },
      (err: unknown) => {
        console.error(JSON.stringify({ level: 'error', msg: 'ehr-sandbox close failed', err: String(err) }));
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  console.error(JSON.stringify({ level: 'error', msg: 'ehr-sandbox failed to start', err: String(err) }));
  process.exit(1);
});
