export { startWorkerRuntime, jobLimits, type WorkerRuntime } from './runtime';
export type { WorkerDeps } from './deps';
export { relayOnce } from './relay';
export { signWebhook, verifyWebhook, SIGNATURE_HEADER } from './webhooks/signature';
export { startWorker, type RunningWorker } from './worker';
export { runEhrCheck, PRODUCED_TYPES, EHR_CHECK_TAG, type EhrCheckOptions } from './ehr-check';
export { adapterScopeNeeds, connectEhr, grantShortfall } from './ehr-connection';
export {
  bearerExpiryMs,
  ensureEhrSubscriptions,
  renewSubscriptionToken,
  subscribeToEhr,
  type RenewOutcome,
  type SubscribeOutcome,
} from './inbound/subscribe';
export { notificationTokenIssuer, renewSubscriptionTokensOnce } from './inbound/renew-subscriptions';
export { chooseTenants, parseTenantArgs, runPerTenant, tenantHeading, TenantChoiceError, type TenantChoice } from './tenant-ops';
// The steps the processors are made of, exported for the cross-service tests and benchmarks
// (which drive one step against a real EHR or the sandbox) so they need no path into src.
export { ehrSyncProcessor } from './units/ehr-sync/processor';
export { escalateSafetyAlert } from './units/safety-alert-escalation/processor';
export { applyInboundMessage } from './inbound/apply-message';
export { syncPatient, sendGroup, keptBackReferences } from './sync/sync-patient';
export { reconcileWithEhr } from './sync/reconcile';
export { syncIdentityOf } from './sync/sync-identity';
export { localReferences } from './sync/ehr-copies';
export { profileClaims } from './sync/profile-claims';
