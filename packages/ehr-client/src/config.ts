import type { EhrAuth } from './auth';
import { EhrError } from './errors';

/**
 * The part of the service configuration (`@kap/config`'s `Config`) that chooses how to
 * authenticate to the EHR. Declared structurally so this package need not depend on the
 * config package; any `Config` object can be passed as is.
 */
export interface EhrAuthSettings {
  readonly EHR_AUTH: 'none' | 'bearer' | 'client-credentials' | 'smart-backend';
  readonly EHR_TOKEN?: string | undefined;
  readonly EHR_TOKEN_URL?: string | undefined;
  readonly EHR_CLIENT_ID?: string | undefined;
  readonly EHR_CLIENT_SECRET?: string | undefined;
  readonly EHR_PRIVATE_KEY?: string | undefined;
  readonly EHR_KEY_ID?: string | undefined;
  readonly EHR_SCOPE?: string | undefined;
}

/**
 * Maps configuration to an {@link EhrAuth}. The config schema already requires the
 * variables each mode needs; they are checked again here so a hand-built settings object
 * fails with the variable's name rather than with an undefined token at the first sync.
 * @see http://hl7.org/fhir/smart-app-launch/backend-services.html
 */
export function ehrAuthFromSettings(settings: EhrAuthSettings): EhrAuth {
  const scope = settings.EHR_SCOPE?.trim() ? { scope: settings.EHR_SCOPE.trim() } : {};
  switch (settings.EHR_AUTH) {
    case 'none':
      return { mode: 'none' };
    case 'bearer':
      return { mode: 'bearer', token: required(settings, 'EHR_TOKEN') };
    case 'client-credentials':
      return {
        mode: 'client-credentials',
        tokenUrl: required(settings, 'EHR_TOKEN_URL'),
        clientId: required(settings, 'EHR_CLIENT_ID'),
        clientSecret: required(settings, 'EHR_CLIENT_SECRET'),
        ...scope,
      };
    case 'smart-backend':
      return {
        mode: 'smart-backend',
        tokenUrl: required(settings, 'EHR_TOKEN_URL'),
        clientId: required(settings, 'EHR_CLIENT_ID'),
        privateKeyPem: unescapePem(required(settings, 'EHR_PRIVATE_KEY')),
        keyId: required(settings, 'EHR_KEY_ID'),
        ...scope,
      };
  }
}

/**
 * Environment variables and secret stores often carry a PEM on one line with literal
 * `\n` sequences; PEM parsers need real line breaks. A PEM never contains a backslash, so
 * the replacement cannot damage a key that already has real newlines.
 */
export function unescapePem(pem: string): string {
  return pem.replace(/\\r\\n|\\n/g, '\n').trim() + '\n';
}

type RequiredKey = Exclude<keyof EhrAuthSettings, 'EHR_AUTH' | 'EHR_SCOPE'>;

function required(settings: EhrAuthSettings, key: RequiredKey): string {
  const value = settings[key]?.trim();
  if (!value) throw new EhrError('auth', `${key} is required when EHR_AUTH=${settings.EHR_AUTH}`);
  return value;
}
