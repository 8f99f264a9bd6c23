import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startSandbox } from '@kap/ehr-sandbox';

jest.setTimeout(120_000);

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

/** Runs an npm script's file as hospital IT would, and returns its exit code and output whatever the code. */
async function run(script: string, args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [script, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** The lines of one tenant's section, from its heading to the next. */
function section(stdout: string, tenantId: string): string {
  const start = stdout.indexOf(`=== Tenant ${tenantId}`);
  if (start < 0) return '';
  const next = stdout.indexOf('=== Tenant ', start + 1);
  return stdout.slice(start, next < 0 ? undefined : next);
}

describe('ehr:check and ehr:subscribe per tenant (two tenants, two sandbox EHRs)', () => {
  let healthy: Sandbox;
  let limited: Sandbox;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    healthy = await startSandbox({ port: 0, profile: 'default' });
    // An EHR that lists none of a screening's types: its tenant's check fails.
    limited = await startSandbox({ port: 0, profile: 'limited-types' });
    dir = mkdtempSync(join(tmpdir(), 'kap-tenant-ops-'));
    const file = join(dir, 'tenants.json');
    writeFileSync(
      file,
      JSON.stringify({
        tenants: [
          { id: 'north', name: 'North Hospice', env: { EHR_BASE_URL: healthy.url } },
          { id: 'south', name: 'South Hospice', env: { EHR_BASE_URL: limited.url } },
          { id: 'lab', env: {} },
        ],
      }),
    );
    // No EHR_BASE_URL in the environment: tenant lab has no EHR (it would reach the embedded sandbox).
    env = { TENANTS_FILE: file, EHR_BASE_URL: '', EHR_TIMEOUT_MS: '2000', PUBLIC_BASE_URL: 'https://kap.hospital.test' };
  });
  afterAll(async () => {
    await healthy?.close();
    await limited?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('with several tenants and no flag, refuses with the way to name one (exit 2), touching no EHR', async () => {
    const before = healthy.sandbox.stats().requests.total;
    const { code, stderr } = await run('scripts/ehr-check.mjs', [], env);
    expect(code).toBe(2);
    expect(stderr).toContain('serves 3 tenants (north, south, lab)');
    expect(stderr).toContain('--tenant ID');
    expect(stderr).toContain('--all');
    expect(healthy.sandbox.stats().requests.total).toBe(before);
    const unknown = await run('scripts/ehr-check.mjs', ['--tenant', 'west'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('No tenant "west" here; the tenants are: north, south, lab');
  });

  it("--tenant checks that tenant's EHR only: the healthy one passes, the limited one fails", async () => {
    const north = await run('scripts/ehr-check.mjs', ['--tenant', 'north'], env);
    expect(north.code).toBe(0);
    expect(north.stdout).toContain(`=== Tenant north (North Hospice): EHR ${healthy.url} ===`);
    expect(north.stdout).toContain(`EHR preflight for ${healthy.url}`);
    expect(north.stdout).toContain('ok    a screening can go to this EHR');
    expect(north.stdout).not.toContain(limited.url);
    const south = await run('scripts/ehr-check.mjs', ['--tenant=south'], env);
    expect(south.code).toBe(1);
    expect(south.stdout).toContain(`EHR preflight for ${limited.url}`);
    expect(south.stdout).toContain("FAIL  a screening cannot go to this EHR: the EHR takes none of a screening's resources");
  });

  it('--all: one labelled section per tenant with an EHR, the one without skipped, and a failing exit code as one tenant fails', async () => {
    const { code, stdout } = await run('scripts/ehr-check.mjs', ['--all'], env);
    expect(code).toBe(1);
    expect(section(stdout, 'north')).toContain('ok    a screening can go to this EHR');
    expect(section(stdout, 'north')).not.toContain('FAIL');
    expect(section(stdout, 'south')).toContain('FAIL  a screening cannot go to this EHR');
    expect(stdout).toContain('Tenant lab skipped: no EHR_BASE_URL');
    expect(stdout).toContain('1 of 2 tenant(s) failed: south');
  });

  it('a single-tenant deployment keeps working without flags and says which tenant and EHR it used', async () => {
    const { code, stdout } = await run('scripts/ehr-check.mjs', [], { EHR_BASE_URL: healthy.url });
    expect(code).toBe(0);
    expect(stdout).toContain(`=== Tenant default: EHR ${healthy.url} ===`);
    expect(stdout).toContain('a screening can go to this EHR');
  });

  it("ehr:subscribe --tenant puts the Subscriptions on that tenant's EHR only, once; --all on each", async () => {
    const one = await run('scripts/ehr-subscribe.mjs', ['--tenant', 'north'], env);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain(`=== Tenant north (North Hospice): EHR ${healthy.url} ===`);
    expect(one.stdout).toContain('rest-hook https://kap.hospital.test/v1/ehr-notifications');
    expect(healthy.sandbox.stats().resources['Subscription']).toBe(2);
    expect(limited.sandbox.stats().resources['Subscription'] ?? 0).toBe(0);
    const refused = await run('scripts/ehr-subscribe.mjs', [], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--tenant ID');
    // South's EHR takes no Subscription: its section fails, north's still runs, and the exit code says so.
    const all = await run('scripts/ehr-subscribe.mjs', ['--all'], env);
    expect(all.code).toBe(1);
    expect(section(all.stdout, 'north')).toMatch(/exists\s+Subscription\//);
    expect(section(all.stdout, 'south')).toContain('FAIL  ehr:subscribe failed');
    expect(all.stdout).toContain('1 of 2 tenant(s) failed: south');
    expect(healthy.sandbox.stats().resources['Subscription']).toBe(2);
  });
});
