/**
 * The brand only `forTenant` puts on a handle. This module is not exported from the package:
 * outside the store no code can name the symbol, so none can make a `TenantDb` of its own.
 */
export const TENANT: unique symbol = Symbol('kap.tenant');
