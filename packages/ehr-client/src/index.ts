/**
 * FHIR R4 REST client for hospital EHRs: authentication, reads, searches, transaction
 * Bundles with conditional writes, and error classification for the job queue.
 * @see http://hl7.org/fhir/R4/http.html
 */
export * from './auth';
export * from './backoff';
export * from './client';
export * from './config';
export * from './errors';
export * from './identifiers';
export { parseRetryAfter } from './retry-after';
export { CLIENT_ASSERTION_TYPE, type AssertionAlgorithm } from './client-assertion';
export * from './sync-plan';
export * from './capabilities';
export * from './capability-cache';
export * from './write-order';
export * from './write-strategy';
export * from './scopes';
