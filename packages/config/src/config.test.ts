import {
  clinicTimeZone,
  escalationWebhookUrls,
  hl7OutDestination,
  isLoopbackHost,
  loadConfig,
  openAccessRefusal,
  publicBaseUrl,
} from './config';

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
    expect(() => loadConfig({ EHR_AUTH: 'smart-backend' })).toThrow(
      /EHR_TOKEN_URL[\s\S]*EHR_CLIENT_ID[\s\S]*EHR_PRIVATE_KEY[\s\S]*EHR_KEY_ID/,
    );
    expect(() => loadConfig({ EHR_AUTH: 'bearer' })).toThrow(/EHR_TOKEN: required/);
  });

  it('refuses a port that is not a number', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
  });

  it('sends HL7 v2 only to an engine named by host and port together', () => {
    expect(hl7OutDestination(loadConfig({}))).toBeUndefined();
    expect(hl7OutDestination(loadConfig({ HL7_OUT_HOST: 'engine.hosp', HL7_OUT_PORT: '6661' }))).toEqual({
      host: 'engine.hosp',
      port: 6661,
    });
    expect(() => loadConfig({ HL7_OUT_HOST: 'engine.hosp' })).toThrow(/HL7_OUT_PORT: HL7_OUT_HOST and HL7_OUT_PORT are set together/);
    expect(() => loadConfig({ HL7_OUT_PORT: '6661' })).toThrow(/HL7_OUT_HOST: /);
  });
});

describe('secure defaults', () => {
  it('knows loopback addresses from the rest', () => {
    for (const host of ['127.0.0.1', '127.10.0.3', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LocalHost']) {
      expect({ host, loopback: isLoopbackHost(host) }).toEqual({ host, loopback: true });
    }
    for (const host of [
      '0.0.0.0',
      '::',
      '10.1.2.3',
      '128.0.0.1',
      '::ffff:10.0.0.1',
      'kap.hospital.example',
      'localhost.attacker.example',
      '',
    ]) {
      expect({ host, loopback: isLoopbackHost(host) }).toEqual({ host, loopback: false });
    }
  });

  it('refuses AUTH_MODE=none off loopback, and says what to set instead', () => {
    expect(openAccessRefusal(loadConfig({}))).toBeUndefined();
    expect(openAccessRefusal(loadConfig({ HOST: '::1' }))).toBeUndefined();
    expect(openAccessRefusal(loadConfig({ HOST: '0.0.0.0' }))).toMatch(/AUTH_MODE=none[\s\S]*HOST=0\.0\.0\.0[\s\S]*AUTH_MODE=jwt/);
    const jwt = {
      AUTH_MODE: 'jwt',
      AUTH_ISSUER: 'https://login.example/realm',
      AUTH_AUDIENCE: 'kap',
      AUTH_JWKS_URL: 'https://login.example/jwks',
      AUTH_TOKEN_URL: 'https://login.example/token',
    };
    expect(openAccessRefusal(loadConfig({ ...jwt, HOST: '0.0.0.0' }))).toBeUndefined();
  });

  it('names what AUTH_MODE=jwt needs, the token endpoint included', () => {
    expect(() => loadConfig({ AUTH_MODE: 'jwt' })).toThrow(/AUTH_ISSUER[\s\S]*AUTH_AUDIENCE[\s\S]*AUTH_JWKS_URL[\s\S]*AUTH_TOKEN_URL/);
  });

  it('takes CORS origins exactly as browsers send them', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://kap.hospital.example, http://localhost:5173' }).CORS_ORIGINS).toBeDefined();
    expect(() => loadConfig({ CORS_ORIGINS: 'https://kap.hospital.example/' })).toThrow(/CORS_ORIGINS/);
    expect(() => loadConfig({ CORS_ORIGINS: '*' })).toThrow(/CORS_ORIGINS/);
  });
});

describe('clinic time and safety alerts', () => {
  it('takes an IANA zone, refuses offsets and unknown names, and is UTC when unset', () => {
    expect(clinicTimeZone(loadConfig({ CLINIC_TIME_ZONE: 'Australia/Lord_Howe' }))).toBe('Australia/Lord_Howe');
    expect(clinicTimeZone(loadConfig({}))).toBe('UTC');
    expect(() => loadConfig({ CLINIC_TIME_ZONE: '+01:00' })).toThrow(/CLINIC_TIME_ZONE: not an IANA time zone/);
    expect(() => loadConfig({ CLINIC_TIME_ZONE: 'Europe/Berlinn' })).toThrow(/CLINIC_TIME_ZONE/);
  });
  it('reads the acknowledgement window as an ISO 8601 duration, PT30M by default', () => {
    expect(loadConfig({}).SAFETY_ALERT_ACK_WITHIN).toBe('PT30M');
    expect(loadConfig({ SAFETY_ALERT_ACK_WITHIN: 'PT2S' }).SAFETY_ALERT_ACK_WITHIN).toBe('PT2S');
    for (const bad of ['30m', 'PT', 'P', 'PT0M', '1800'])
      expect(() => loadConfig({ SAFETY_ALERT_ACK_WITHIN: bad })).toThrow(/SAFETY_ALERT_ACK_WITHIN/);
  });
  it('sends escalations to their own URLs, else to the webhooks', () => {
    const base = { WEBHOOK_URLS: 'https://team.example/hook', WEBHOOK_SECRET: 's' };
    expect(escalationWebhookUrls(loadConfig(base))).toEqual(['https://team.example/hook']);
    expect(escalationWebhookUrls(loadConfig({ ...base, SAFETY_ESCALATION_WEBHOOK_URLS: 'https://oncall.example/page' }))).toEqual([
      'https://oncall.example/page',
    ]);
    expect(() => loadConfig({ SAFETY_ESCALATION_WEBHOOK_URLS: 'https://oncall.example/page' })).toThrow(/WEBHOOK_SECRET/);
  });
});
