// Runs the whole service on embedded defaults: the API, the worker and the EHR sandbox. Redis comes from REDIS_URL, else 127.0.0.1:6379,
// else a local redis-server started here (and stopped on exit). Ctrl-C stops everything.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { resolve } from 'node:path';

const env = { ...process.env };
const children = [];
let stopping = false;

function redisAnswers(url) {
  const { hostname, port } = new URL(url);
  return new Promise((done) => {
    const socket = net.connect({ host: hostname || '127.0.0.1', port: Number(port || 6379) });
    const finish = (ok) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    // A password-protected Redis answers NOAUTH: it is there, and the services authenticate from the URL.
    socket.once('data', (data) => finish(/^(\+PONG|-NOAUTH)/.test(data.toString())));
  });
}

function hasBinary(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

async function ensureRedis() {
  const url = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await redisAnswers(url)) return url;
  if (env.REDIS_URL) {
    console.error(`start: Redis does not answer at REDIS_URL=${url}. Start it, or unset REDIS_URL to use a local one.`);
    process.exit(1);
  }
  if (!hasBinary('redis-server')) {
    console.error(
      'start: no Redis at 127.0.0.1:6379 and no redis-server to start.\n' +
        '  Install Redis 6.2 or newer (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis),\n' +
        '  or point REDIS_URL at one, then run this again.',
    );
    process.exit(1);
  }
  const dir = resolve(env.DATA_DIR ?? '.data', 'redis');
  mkdirSync(dir, { recursive: true });
  console.log('start: starting a local redis-server on 127.0.0.1:6379 (AOF on, noeviction)');
  const redis = spawn(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', '6379', '--dir', dir, '--appendonly', 'yes', '--save', '', '--maxmemory-policy', 'noeviction'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  children.push({ name: 'redis', proc: redis });
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers(url)) return url;
    await new Promise((r) => setTimeout(r, 100));
  }
  console.error('start: redis-server did not answer; see its output above');
  stopAll(1);
}

function run(name, script, onReady) {
  // The IPC channel carries the service's "ready" (@kap/runtime), once it listens.
  const proc = spawn(process.execPath, ['--enable-source-maps', script], { env, stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
  proc.on('message', (message) => {
    if (message?.type === 'ready') onReady();
  });
  children.push({ name, proc });
  proc.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`start: ${name} exited (${signal ?? code}); stopping the rest`);
      stopAll(code ?? 1);
    }
  });
}

function stopAll(code) {
  if (stopping) return;
  stopping = true;
  for (const { proc } of [...children].reverse()) proc.kill('SIGTERM');
  const deadline = setTimeout(() => {
    for (const { proc } of children) proc.kill('SIGKILL');
    process.exit(code);
  }, 12_000);
  Promise.all(children.map(({ proc }) => (proc.exitCode !== null ? null : new Promise((r) => proc.once('exit', r))))).then(() => {
    clearTimeout(deadline);
    process.exit(code);
  });
}

process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));

const port = env.PORT ?? '3000';
const sandboxPort = env.EHR_SANDBOX_PORT ?? '3100';
// The hospital's HL7 v2 feed (ADT over MLLP) on the conventional port, unless set otherwise.
env.MLLP_PORT ??= '2575';
// One process (services/standalone) runs the API, the worker and the sandbox: the embedded
// database is single-process. docker-compose.yml runs them apart on PostgreSQL.
const service = 'services/standalone/dist/main.js';
// The whole configuration is checked by the service's own code before anything starts or
// prints: a bad setting ends here, with every problem named, and no URLs.
const check = spawnSync(process.execPath, [service, '--check-config'], { env, stdio: 'inherit' });
if (check.status !== 0) {
  console.error('start: the configuration above is not valid; nothing was started.');
  process.exit(check.status || 1);
}
env.REDIS_URL = await ensureRedis();
run('kap', service, printReady);

function printReady() {
  const base = `http://localhost:${port}`;
  console.log(
    [
      '',
      'KAP FHIR adapter is ready:',
      `  API            ${base}/v1   (OpenAPI ${base}/openapi.json, docs ${base}/docs)`,
      `  FHIR           ${base}/fhir/R4/metadata`,
      `  health/ready   ${base}/health  ${base}/ready`,
      `  EHR            ${env.EHR_BASE_URL ?? `embedded sandbox http://127.0.0.1:${sandboxPort}/fhir/R4`}`,
      `  database       ${env.DATABASE_URL ? 'DATABASE_URL' : `embedded PGlite in ${resolve(env.DATA_DIR ?? '.data', 'postgres')}`}`,
      `  redis          ${env.REDIS_URL}`,
      `  HL7 v2 (MLLP)  ${env.MLLP_HOST ?? '127.0.0.1'}:${env.MLLP_PORT}   (ADT from the hospital's interface engine)`,
      (env.AUTH_MODE ?? 'none') === 'none'
        ? `  access         OPEN (AUTH_MODE=none): no token needed, so it listens on loopback only (${env.HOST ?? '127.0.0.1'}); see README "Production settings" for JWT`
        : `  access         bearer JWTs from ${env.AUTH_ISSUER ?? '(AUTH_ISSUER)'} (AUTH_MODE=jwt)`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
}
