/**
 * `@kap/store`: the adapter's PostgreSQL (or embedded PGlite) storage: FHIR resources with
 * history, the KAP workflow tables, idempotency keys, the outbox and EHR sync state.
 * Every repository function on a tenant's rows takes a `TenantDb` first (made by `forTenant`,
 * possibly a transaction); the deployment's own machinery takes the `DeploymentDb`.
 */
export * from './db';
export * from './open-database';
export { migrate, MIGRATIONS, type Migration, type MigrateOptions } from './migrations';
export { TENANT_ROLE, TENANT_TABLES } from './migration-list';
export type { JsonValue, Instant } from './sql-values';
export { patientIdOf } from './patient-ref';
export * from './resources';
export * from './patients';
export * from './screenings';
export * from './courses';
export * from './course-context';
export * from './dosing-sessions';
export * from './follow-ups';
export * from './goals-of-care';
export * from './idempotency';
export * from './outbox';
export * from './hl7-out';
export * from './deployment';
export * from './sync-state';
export * from './leases';
export * from './sync-status';
export * from './reconciliations';
export * from './course-measures';
export * from './inbound-messages';
export * from './unrouted-messages';
export * from './patient-links';
export * from './active-courses';
export * from './tenant';
export * from './audit-events';
export * from './deployment-audit';
export * from './safety-alerts';
export * from './write-together';
