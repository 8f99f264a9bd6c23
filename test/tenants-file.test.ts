import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A bad tenants file stops each process at start, before it opens anything, with the
 * tenant and the setting named; nothing of the file's secrets is echoed.
 */
describe('TENANTS_FILE at start-up', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kap-tenants-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const start = (main: string, file: string) =>
    spawnSync(process.execPath, [main], {
      env: { PATH: process.env.PATH, TENANTS_FILE: file, LOG_LEVEL: 'silent', MLLP_PORT: '0' },
      encoding: 'utf8',
      timeout: 30_000,
    });

  it.each(['services/api/dist/main.js', 'services/worker/dist/main.js', 'services/mllp/dist/main.js'])(
    '%s refuses a tenants file with a bad entry, naming it',
    (main) => {
      const file = join(dir, 'tenants.yaml');
      writeFileSync(
        file,
        [
          'tenants:',
          '  - id: north',
          '    env: { EHR_BASE_URL: "http://north.example/fhir" }',
          '  - id: south',
          '    env:',
          '      EHR_AUTH: client-credentials',
          '      EHR_CLIENT_SECRET: do-not-echo-this',
          '      REDIS_URL: redis://elsewhere:6379',
        ].join('\n'),
      );
      const run = start(main, file);
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(/tenants\[1\] \(tenant "south"\)\.env\.REDIS_URL: belongs to the deployment/);
      expect(run.stderr).not.toMatch(/tenant "north"/);
      expect(run.stderr).not.toContain('do-not-echo-this');
    },
  );

  it('refuses a JSON file that does not parse, naming the file', () => {
    const file = join(dir, 'tenants.json');
    writeFileSync(file, '{ "tenants": [ { "id": "north" ');
    const run = start('services/api/dist/main.js', file);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/Invalid tenants file .*tenants\.json: not JSON/);
  });

  it('names a tenant whose settings do not hold together', () => {
    const file = join(dir, 'tenants-auth.json');
    writeFileSync(file, JSON.stringify({ tenants: [{ id: 'south', env: { EHR_AUTH: 'bearer' } }] }));
    const run = start('services/api/dist/main.js', file);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/tenants\[0\] \(tenant "south"\)\.env\.EHR_TOKEN: required when EHR_AUTH=bearer/);
  });
});
