export { startWorkerRuntime, jobLimits, type WorkerRuntime } from './runtime';
export type { WorkerDeps } from './deps';
export { relayOnce } from './relay';
export { signWebhook, verifyWebhook, SIGNATURE_HEADER } from './webhooks/signature';
export { startWorker, type RunningWorker } from './worker';
export { runEhrCheck, PRODUCED_TYPES, EHR_CHECK_TAG, type EhrCheckOptions } from './ehr-check';
export { adapterScopeNeeds, connectEhr, grantShortfall } from './ehr-connection';
export { ensureEhrSubscriptions } from './inbound/subscribe';
