import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Start-up as an operator meets it, on the built scripts: a bad configuration stops the
 * process before it listens, starts Redis or prints that it is ready, and names the setting.
 */
const ROOT = join(__dirname, '..');
const dataDir = mkdtempSync(join(tmpdir(), 'kap-startup-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Runs a script to its end with only the given settings beside PATH; a script that does not end in 60 s fails the test. */
function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} still running after 60 s:\n${stdout}\n${stderr}`));
    }, 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

// JWT without AUTH_TOKEN_URL: the case where `npm start` used to print its URLs, then die.
const JWT_WITHOUT_TOKEN_URL = {
  AUTH_MODE: 'jwt',
  AUTH_ISSUER: 'https://issuer.example/realm',
  AUTH_AUDIENCE: 'https://kap.example/api',
  AUTH_JWKS_URL: 'https://issuer.example/realm/jwks.json',
  // Ports nobody listens on: a start that got as far as Redis or listening would show it.
  REDIS_URL: 'redis://127.0.0.1:9',
  PORT: '39071',
  EHR_SANDBOX_PORT: '39072',
  MLLP_PORT: '39073',
};

describe('start-up with a bad configuration', () => {
  it('npm start (scripts/start.mjs) exits non-zero naming the setting, before Redis and before any ready line or URL', async () => {
    const { code, stdout, stderr } = await run(['scripts/start.mjs'], JWT_WITHOUT_TOKEN_URL);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/Invalid configuration[\s\S]*AUTH_TOKEN_URL/);
    expect(stderr).not.toMatch(/Redis does not answer/);
    expect(stdout).not.toMatch(/ready|http:\/\/localhost/i);
  });

  it.each(['api', 'worker', 'mllp', 'standalone'])('services/%s exits 1 before it listens or says it is ready', async (service) => {
    const { code, stdout, stderr } = await run([`services/${service}/dist/main.js`], JWT_WITHOUT_TOKEN_URL);
    expect(code).toBe(1);
    expect(stderr).toMatch(/Invalid configuration/);
    expect(stdout).not.toMatch(/ready|listening/i);
  });

  it('an open API on a network address is refused before anything starts', async () => {
    const { code, stderr } = await run(['services/api/dist/main.js'], { HOST: '0.0.0.0', PORT: '39074', REDIS_URL: 'redis://127.0.0.1:9' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/AUTH_MODE=none[\s\S]*HOST=0\.0\.0\.0/);
  });

  it('--check-config accepts a good configuration and starts nothing', async () => {
    const { code, stdout } = await run(['services/standalone/dist/main.js', '--check-config'], {
      PORT: '39075',
      EHR_SANDBOX_PORT: '39076',
      MLLP_PORT: '39077',
      REDIS_URL: 'redis://127.0.0.1:9',
    });
    expect(code).toBe(0);
    expect(stdout).not.toMatch(/ready|listening/i);
  });
});
