import { loadConfig, publicBaseUrl } from './config';

describe('loadConfig', () => {
  it('gives embedded defaults for an empty environment', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(3000);
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.EHR_BASE_URL).toBeUndefined();
    expect(c.FOLLOW_UP_OFFSETS).toBe('PT24H,PT72H,P7D');
    expect(Object.isFrozen(c)).toBe(true);
    expect(publicBaseUrl(c)).toBe('http://localhost:3000');
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', EHR_BASE_URL: '' }).EHR_BASE_URL).toBeUndefined();
  });

  it('names every missing setting an auth mode needs', () => {
    expect(() => loadConfig({ EHR_AUTH: 'smart-backend' })).toThrow(/EHR_TOKEN_URL[\s\S]*EHR_CLIENT_ID[\s\S]*EHR_PRIVATE_KEY[\s\S]*EHR_KEY_ID/);
    expect(() => loadConfig({ EHR_AUTH: 'bearer' })).toThrow(/EHR_TOKEN: required/);
  });

  it('refuses a port that is not a number', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
  });
});
