import type { Config } from '@kap/config';
import { Router } from 'express';
import { SCOPES_SUPPORTED } from '../http/scopes';

/**
 * SMART App Launch 2.x discovery (https://hl7.org/fhir/smart-app-launch/conformance.html):
 * where a client gets a token for this API and which scopes it understands. The adapter is
 * a resource server only; the hospital's authorization server issues the tokens, through
 * the SMART Backend Services profile (client_credentials with a signed client assertion).
 * Fields the spec requires: token_endpoint, grant_types_supported, capabilities and
 * code_challenge_methods_supported; the rest are recommended or optional.
 */
export function smartConfiguration(config: Config): Record<string, unknown> {
  return {
    ...(config.AUTH_ISSUER ? { issuer: config.AUTH_ISSUER } : {}),
    ...(config.AUTH_JWKS_URL ? { jwks_uri: config.AUTH_JWKS_URL } : {}),
    ...(config.AUTH_TOKEN_URL ? { token_endpoint: config.AUTH_TOKEN_URL } : {}),
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    // What the Backend Services profile requires of client assertions; access tokens may use any of ACCEPTED_ALGORITHMS (http/jwt-auth.ts).
    token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
    scopes_supported: SCOPES_SUPPORTED,
    capabilities: ['client-confidential-asymmetric', 'permission-v1', 'permission-v2', 'permission-user'],
    code_challenge_methods_supported: ['S256'],
  };
}

/** `GET /.well-known/smart-configuration`, public (docs/api.md#authentication-and-tenants). */
export function smartConfigurationRoutes(config: Config): Router {
  const router = Router();
  const document = smartConfiguration(config);
  router.get('/.well-known/smart-configuration', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(document);
  });
  return router;
}
