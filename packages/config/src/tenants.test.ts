import { ConfigError, hl7OutDestination } from './config';
import { DEFAULT_TENANT_ID, loadTenants } from './tenants';

const ENV = { EHR_BASE_URL: 'http://ehr.example/fhir/R4', WEBHOOK_SECRET: 'env-secret', FOLLOW_UP_OFFSETS: 'PT24H' };

const refusal = (path: string, text: string): string => {
  try {
    loadTenants(ENV, { path, text });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the tenants file was accepted');
};

describe('loadTenants', () => {
  it('serves one default tenant on the environment without a file', () => {
    const tenants = loadTenants(ENV);
    expect(tenants.ids).toEqual([DEFAULT_TENANT_ID]);
    expect(tenants.get(DEFAULT_TENANT_ID)?.config.EHR_BASE_URL).toBe(ENV.EHR_BASE_URL);
    expect(tenants.has('other')).toBe(false);
  });

  it('reads JSON: each tenant its own settings, the rest from the environment', () => {
    const tenants = loadTenants(ENV, {
      path: 'tenants.json',
      text: JSON.stringify({
        tenants: [
          { id: 'north', name: 'North Hospice', env: { EHR_BASE_URL: 'http://north.example/fhir', FOLLOW_UP_OFFSETS: 'PT1H,PT2H' } },
          { id: 'south', name: 'South', env: { SCREENING_BP_SYSTOLIC_ABOVE: 150 } },
        ],
      }),
    });
    expect(tenants.ids).toEqual(['north', 'south']);
    const north = tenants.get('north')!;
    expect(north.name).toBe('North Hospice');
    expect(north.config.EHR_BASE_URL).toBe('http://north.example/fhir');
    expect(north.config.FOLLOW_UP_OFFSETS).toBe('PT1H,PT2H');
    expect(north.config.WEBHOOK_SECRET).toBe('env-secret');
    const south = tenants.get('south')!;
    expect(south.config.EHR_BASE_URL).toBe(ENV.EHR_BASE_URL);
    expect(south.config.SCREENING_BP_SYSTOLIC_ABOVE).toBe(150);
    expect(south.config.FOLLOW_UP_OFFSETS).toBe('PT24H');
  });

  it('reads YAML, with lists and maps written back as the environment holds them', () => {
    const tenants = loadTenants(ENV, {
      path: 'tenants.yaml',
      text: [
        'tenants:',
        '  - id: east',
        '    name: East',
        '    env:',
        '      WEBHOOK_URLS: [http://hooks.east.example/a, http://hooks.east.example/b]',
        '      HL7_SENDING_FACILITIES: [EASTHOSP]',
        '      SCREENING_SEVERITY_OVERRIDES: { uncontrolledHypertension: caution }',
        '      EHR_TIMEOUT_MS: 2000',
      ].join('\n'),
    });
    const east = tenants.get('east')!.config;
    expect(east.WEBHOOK_URLS).toBe('http://hooks.east.example/a,http://hooks.east.example/b');
    expect(east.HL7_SENDING_FACILITIES).toBe('EASTHOSP');
    expect(JSON.parse(east.SCREENING_SEVERITY_OVERRIDES!)).toEqual({ uncontrolledHypertension: 'caution' });
    expect(east.EHR_TIMEOUT_MS).toBe(2000);
  });

  it("takes a tenant's own interface engine for HL7 v2 out, but not the deployment's ACK timing", () => {
    const tenants = loadTenants(ENV, {
      path: 'tenants.yaml',
      text: [
        'tenants:',
        '  - id: east',
        '    env:',
        '      HL7_OUT_HOST: engine.east.example',
        '      HL7_OUT_PORT: 6661',
        '      HL7_OUT_RECEIVING_FACILITY: EAST',
        '  - id: west',
      ].join('\n'),
    });
    expect(hl7OutDestination(tenants.get('east')!.config)).toEqual({ host: 'engine.east.example', port: 6661 });
    expect(tenants.get('east')!.config.HL7_OUT_RECEIVING_FACILITY).toBe('EAST');
    expect(hl7OutDestination(tenants.get('west')!.config)).toBeUndefined();
    expect(refusal('t.yaml', 'tenants:\n  - id: east\n    env:\n      HL7_OUT_ACK_TIMEOUT: PT5S')).toMatch(
      /HL7_OUT_ACK_TIMEOUT: belongs to the deployment/,
    );
  });

  it('names the tenant and the setting of a bad value', () => {
    const message = refusal(
      'tenants.json',
      JSON.stringify({
        tenants: [
          { id: 'good', env: {} },
          { id: 'bad', env: { EHR_BASE_URL: 'not a url', EHR_AUTH: 'bearer' } },
        ],
      }),
    );
    expect(message).toMatch(/tenants\[1\] \(tenant "bad"\)\.env\.EHR_BASE_URL/);
    expect(message).toMatch(/tenants\[1\] \(tenant "bad"\)\.env\.EHR_TOKEN: required when EHR_AUTH=bearer/);
    expect(message).not.toMatch(/"good"/);
  });

  it("refuses a tenant's deployment settings, unknown settings and fields", () => {
    const message = refusal(
      'tenants.yml',
      'tenants:\n  - id: t1\n    env: { DATABASE_URL: "postgres://elsewhere/db", AUTH_MODE: none, NOT_A_SETTING: x }\n    colour: blue\n',
    );
    expect(message).toMatch(/"t1"\)\.env\.DATABASE_URL: belongs to the deployment/);
    expect(message).toMatch(/"t1"\)\.env\.AUTH_MODE: belongs to the deployment/);
    expect(message).toMatch(/"t1"\)\.env\.NOT_A_SETTING: not a setting/);
    expect(message).toMatch(/"t1"\)\.colour: not a tenant field/);
  });

  it('refuses unsafe and repeated tenant ids, an empty list and text that does not parse', () => {
    expect(refusal('t.json', JSON.stringify({ tenants: [{ id: "a'; DROP TABLE x" }] }))).toMatch(/tenants\[0\]\.id: must match/);
    expect(refusal('t.json', JSON.stringify({ tenants: [{ id: 'Upper' }] }))).toMatch(/tenants\[0\]\.id: must match/);
    expect(refusal('t.json', JSON.stringify({ tenants: [{ id: 'a' }, { id: 'a' }] }))).toMatch(
      /tenants\[1\] \(tenant "a"\)\.id: "a" is named twice/,
    );
    expect(refusal('t.json', JSON.stringify({ tenants: [] }))).toMatch(/the list is empty/);
    expect(refusal('t.json', '{ "tenants": [')).toMatch(/not JSON/);
    expect(refusal('t.yaml', 'tenants: [ {')).toMatch(/not YAML/);
    expect(refusal('t.yaml', 'hospitals: []')).toMatch(/tenants: must be a list/);
  });
});
