import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MIGRATIONS } from './migrations';
import { TENANT_ISOLATION_EXPECTED } from './tenant-scenario';

const run = promisify(execFile);

/**
 * Runs one phase of pglite-scenario.ts in a fresh Node process (see that file for why),
 * compiling the TypeScript sources on the fly with swc, and returns its JSON result.
 */
async function runPhase(dir: string, phase: 'writePhase' | 'readPhase' | 'tenantPhase', dataDir: string): Promise<Record<string, unknown>> {
  const bootstrap = join(dir, 'bootstrap.cjs');
  await writeFile(
    bootstrap,
    `const fs = require('node:fs');
const swc = require(${JSON.stringify(require.resolve('@swc/core'))});
require.extensions['.ts'] = (module, filename) => {
  const { code } = swc.transformSync(fs.readFileSync(filename, 'utf8'), {
    filename, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};
const [scenario, phase, dataDir] = process.argv.slice(2);
require(scenario)[phase](dataDir).then(
  (result) => process.stdout.write(JSON.stringify(result)),
  (error) => { console.error(error); process.exitCode = 1; },
);
`,
  );
  const { stdout } = await run(process.execPath, [bootstrap, join(__dirname, 'pglite-scenario.ts'), phase, dataDir], {
    timeout: 60_000,
  });
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('PGlite (embedded default)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kap-store-pglite-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the same migrations and repositories, and another process finds the data on disk', async () => {
    const dataDir = join(dir, 'data');
    const written = await runPhase(dir, 'writePhase', dataDir);
    expect(written).toMatchObject({
      outboxNotified: 1,
      kind: 'pglite',
      versions: MIGRATIONS.map((m) => m.version),
      created: true,
      secondVersion: '2',
      startDate: '2025-01-02',
      rolledBack: 'abort',
      goneAfterRollback: true,
    });

    const read = await runPhase(dir, 'readPhase', dataDir);
    expect(read).toEqual({
      migratedAgain: [],
      current: 61,
      first: 60,
      byPatient: 1,
      patientId: written['patientId'],
      created: false,
      pendingOutbox: 1,
      sync: expect.objectContaining({ localVersion: 1, syncedVersion: 1, status: 'synced', ehrId: 'e1' }),
      followUp: written['followUp'],
      audited: ['lite-audit'],
    });
  }, 90_000);

  it("keeps tenants apart with the same row-level security: a query that forgets the tenant sees only the tenant's rows", async () => {
    await expect(runPhase(dir, 'tenantPhase', join(dir, 'tenants'))).resolves.toEqual(TENANT_ISOLATION_EXPECTED);
  }, 90_000);
});
