import { loadTenants, singleTenant, loadConfig } from '@kap/config';
import { bearerExpiryMs } from './inbound/subscribe';
import { chooseTenants, parseTenantArgs, runPerTenant, TenantChoiceError } from './tenant-ops';

const file = (tenants: unknown[]) => loadTenants({}, { path: 'tenants.json', text: JSON.stringify({ tenants }) });
const two = file([
  { id: 'north', name: 'North Hospice', env: { EHR_BASE_URL: 'http://north.test/fhir/R4' } },
  { id: 'south', env: { EHR_BASE_URL: 'http://south.test/fhir/R4' } },
  { id: 'lab' },
]);

describe('operator commands per tenant', () => {
  it('reads --tenant ID, --tenant=ID and --all, leaving the other options', () => {
    expect(parseTenantArgs(['--tenant', 'north', '--write-test'])).toEqual({ tenant: 'north', all: false, rest: ['--write-test'] });
    expect(parseTenantArgs(['--tenant=south'])).toEqual({ tenant: 'south', all: false, rest: [] });
    expect(parseTenantArgs(['--all'])).toEqual({ all: true, rest: [] });
    expect(() => parseTenantArgs(['--tenant'])).toThrow(TenantChoiceError);
    expect(() => parseTenantArgs(['--tenant', '--all'])).toThrow(/needs a tenant id/);
    expect(() => parseTenantArgs(['--tenant', 'north', '--all'])).toThrow(/exclude each other/);
  });

  it('with several tenants, needs a flag; names the tenants when one is unknown; --all skips a tenant without an EHR', () => {
    expect(() => chooseTenants(two, { all: false })).toThrow(/serves 3 tenants \(north, south, lab\).*--tenant ID.*--all/);
    expect(() => chooseTenants(two, { tenant: 'west', all: false })).toThrow('No tenant "west" here; the tenants are: north, south, lab');
    expect(chooseTenants(two, { tenant: 'south', all: false }).tenants.map((t) => t.id)).toEqual(['south']);
    const all = chooseTenants(two, { all: true });
    expect(all.tenants.map((t) => t.id)).toEqual(['north', 'south']);
    expect(all.skipped).toEqual([{ id: 'lab', reason: expect.stringMatching(/no EHR_BASE_URL/) }]);
  });

  it('a single tenant needs no flag', () => {
    expect(chooseTenants(singleTenant(loadConfig({})), { all: false }).tenants.map((t) => t.id)).toEqual(['default']);
  });

  it('runs each tenant under its heading; one failing (or throwing) fails the run, the others still run', async () => {
    const lines: string[] = [];
    const ran: string[] = [];
    const code = await runPerTenant(
      chooseTenants(two, { all: true }),
      (l) => lines.push(l),
      async (t) => {
        ran.push(t.id);
        if (t.id === 'north') throw new Error('boom');
        return 0;
      },
    );
    expect(code).toBe(1);
    expect(ran).toEqual(['north', 'south']);
    expect(lines).toContain('=== Tenant north (North Hospice): EHR http://north.test/fhir/R4 ===');
    expect(lines).toContain('  FAIL  boom');
    expect(lines).toContain('1 of 2 tenant(s) failed: north');
  });
});

describe('the notification token on a Subscription', () => {
  const jwt = (payload: unknown) => `e30.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;
  it("reads the bearer JWT's exp, unverified; anything else has none", () => {
    expect(bearerExpiryMs(`Authorization: Bearer ${jwt({ exp: 1_800_000_000 })}`)).toBe(1_800_000_000_000);
    expect(bearerExpiryMs(`authorization: bearer ${jwt({ exp: 1 })}`)).toBe(1000);
    expect(bearerExpiryMs(`Authorization: Bearer ${jwt({ sub: 'x' })}`)).toBeUndefined();
    expect(bearerExpiryMs('Authorization: Bearer not-a-jwt')).toBeUndefined();
    expect(bearerExpiryMs('Authorization: Bearer a.!!!.c')).toBeUndefined();
    expect(bearerExpiryMs(undefined)).toBeUndefined();
  });
});
