import type { JsonWebKey } from 'node:crypto';

/**
 * How FHIR requests are authenticated. `none` (the default) lets everything through;
 * `bearer` wants one static token; `oauth` runs a client-credentials token endpoint that
 * accepts a client secret (basic or post) or a SMART Backend Services signed assertion.
 * @see https://hl7.org/fhir/smart-app-launch/backend-services.html
 */
export type AuthOptions =
  | { readonly mode: 'none' }
  | { readonly mode: 'bearer'; readonly token: string }
  | {
      readonly mode: 'oauth';
      readonly clientId: string;
      readonly clientSecret?: string;
      /** Public key (RSA for RS384, EC P-384 for ES384) verifying `client_assertion` JWTs. */
      readonly publicJwk?: JsonWebKey;
      /** Access token lifetime; default 300 seconds. */
      readonly tokenTtlSeconds?: number;
    };

/** Path of the token endpoint, outside the FHIR base like most EHRs. */
export const TOKEN_PATH = '/oauth2/token';
