/**
 * The strict EHR sandbox in a process of its own, for the sync benchmark: in the bench's
 * process it shares one event loop with the API and the in-process worker, and its CPU
 * (every FHIR interaction runs under its global mutex) is then timed as the adapter's.
 * Runs the built entry point (services/ehr-sandbox/dist/main.js) as operators would.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { RunningSandbox } from '@kap/ehr-sandbox';

/** A sandbox process on a free loopback port; `env` sets its policy (SANDBOX_* as main.ts reads them). */
export async function spawnSandboxProcess(env: Record<string, string> = {}): Promise<RunningSandbox> {
  const script = resolve(__dirname, '../../../services/ehr-sandbox/dist/main.js');
  const child = spawn(
    process.execPath,
    [...(process.env.BENCH_SANDBOX_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_SANDBOX_PROF_DIR] : []), script],
    {
      // Claims are left unchecked: the sandbox refuses every bp claim as Medplum 5.0.10 does,
      // which the direct baseline's Bundles would meet too; the bench times the adapter.
      env: { ...process.env, EHR_SANDBOX_PORT: '0', EHR_SANDBOX_HOST: '127.0.0.1', SANDBOX_PROFILE_VALIDATION: 'off', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const reap = (): void => void child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.removeListener('exit', reap));
  const url = await new Promise<string>((ok, fail) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => fail(new Error('the sandbox process did not start within 30 s')), 30_000);
    child.once('exit', (code) => fail(new Error(`the sandbox process exited (${code}) before listening`)));
    lines.on('line', (line) => {
      const message = JSON.parse(line) as { msg?: string; url?: string };
      if (message.msg === 'ehr-sandbox listening' && message.url) {
        clearTimeout(timer);
        ok(message.url);
      }
    });
  });
  return {
    url,
    rootUrl: new URL(url).origin,
    // The sandbox object lives in the other process; the benchmark reaches it over HTTP only.
    get sandbox(): never {
      throw new Error('the sandbox runs in another process');
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
