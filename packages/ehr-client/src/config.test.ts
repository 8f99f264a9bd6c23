import { generateKeyPairSync } from 'node:crypto';
import { ehrAuthFromSettings, unescapePem } from './config';
import { EhrError } from './errors';

describe('ehrAuthFromSettings', () => {
  it('maps none and bearer', () => {
    expect(ehrAuthFromSettings({ EHR_AUTH: 'none', EHR_TOKEN: 'ignored' })).toEqual({ mode: 'none' });
    expect(ehrAuthFromSettings({ EHR_AUTH: 'bearer', EHR_TOKEN: 'abc' })).toEqual({ mode: 'bearer', token: 'abc' });
  });

  it('maps client credentials with the scope', () => {
    expect(
      ehrAuthFromSettings({
        EHR_AUTH: 'client-credentials',
        EHR_TOKEN_URL: 'https://idp.example.org/token',
        EHR_CLIENT_ID: 'kap',
        EHR_CLIENT_SECRET: 's3cret',
        EHR_SCOPE: 'system/*.read system/*.write',
      }),
    ).toEqual({
      mode: 'client-credentials',
      tokenUrl: 'https://idp.example.org/token',
      clientId: 'kap',
      clientSecret: 's3cret',
      scope: 'system/*.read system/*.write',
    });
  });

  it('maps SMART backend services and unescapes a one-line PEM', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const oneLine = pem.trim().replace(/\n/g, '\\n');
    const auth = ehrAuthFromSettings({
      EHR_AUTH: 'smart-backend',
      EHR_TOKEN_URL: 'https://ehr.example.org/oauth2/token',
      EHR_CLIENT_ID: 'kap',
      EHR_PRIVATE_KEY: oneLine,
      EHR_KEY_ID: 'key-1',
      EHR_SCOPE: '',
    });
    expect(auth).toEqual({
      mode: 'smart-backend',
      tokenUrl: 'https://ehr.example.org/oauth2/token',
      clientId: 'kap',
      privateKeyPem: pem,
      keyId: 'key-1',
    });
  });

  it('names the missing variable', () => {
    expect(() => ehrAuthFromSettings({ EHR_AUTH: 'bearer' })).toThrow(new EhrError('auth', 'EHR_TOKEN is required when EHR_AUTH=bearer'));
    expect(() => ehrAuthFromSettings({ EHR_AUTH: 'client-credentials', EHR_TOKEN_URL: 'https://x', EHR_CLIENT_ID: 'a' })).toThrow(
      /EHR_CLIENT_SECRET/,
    );
    expect(() =>
      ehrAuthFromSettings({ EHR_AUTH: 'smart-backend', EHR_TOKEN_URL: 'https://x', EHR_CLIENT_ID: 'a', EHR_PRIVATE_KEY: 'k' }),
    ).toThrow(/EHR_KEY_ID/);
  });
});

describe('unescapePem', () => {
  it('leaves a PEM with real newlines as it is, and handles \\r\\n escapes', () => {
    expect(unescapePem('-----BEGIN X-----\nAAA\n-----END X-----\n')).toBe('-----BEGIN X-----\nAAA\n-----END X-----\n');
    expect(unescapePem('-----BEGIN X-----\\r\\nAAA\\r\\n-----END X-----')).toBe('-----BEGIN X-----\nAAA\n-----END X-----\n');
  });
});
