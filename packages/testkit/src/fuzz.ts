/**
 * Property-based fuzzing of every POST endpoint (shared by bench/fuzz.bench.ts and
 * test/fuzz.test.ts): arbitrary JSON and near-valid mutations of valid bodies. Properties:
 * never a 5xx; every 4xx body is an OperationOutcome; a rejected request changes no table.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DeploymentDb } from '@kap/store';
import type { Express } from 'express';
import fc from 'fast-check';
import { GOALS_OF_CARE } from './fixtures';
import { screeningRequest } from './requests';
import { postJson, sessionRequest } from './bodies';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface FuzzIds {
  readonly reviewableScreening: string;
  readonly eligibleScreening: string;
  readonly course: string;
  readonly followUp: string;
  readonly deadLetter: number;
  readonly questionnaireResponse: Json;
}

export interface FuzzTarget {
  readonly name: string;
  readonly path: (ids: FuzzIds) => string;
  /** Replaces the id in the path (for unknown and malformed ids). */
  readonly pathWithId?: (id: string) => string;
  readonly valid: (ids: FuzzIds) => Json;
}

const json = (v: unknown): Json => JSON.parse(JSON.stringify(v)) as Json;

export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  { name: 'screenings', path: () => '/v1/screenings', valid: () => json(screeningRequest()) },
  {
    name: 'screenings.review',
    path: (ids) => `/v1/screenings/${ids.reviewableScreening}/review`,
    pathWithId: (id) => `/v1/screenings/${id}/review`,
    valid: () => ({ decision: 'approved', reviewer: 'Dr. Fuzz', note: 'ok' }),
  },
  { name: 'courses', path: () => '/v1/courses', valid: (ids) => ({ screeningId: ids.eligibleScreening, startDate: '2026-03-05' }) },
  {
    name: 'courses.dosing-sessions',
    path: (ids) => `/v1/courses/${ids.course}/dosing-sessions`,
    pathWithId: (id) => `/v1/courses/${id}/dosing-sessions`,
    valid: () =>
      json({
        ...sessionRequest(2),
        experience: { dissociation: 5, egoDissolution: 2, distress: 1 },
        adverseEvents: [{ description: 'nausea', severity: 'mild' }],
      }),
  },
  {
    name: 'follow-ups.complete',
    path: (ids) => `/v1/follow-ups/${ids.followUp}/complete`,
    pathWithId: (id) => `/v1/follow-ups/${id}/complete`,
    valid: () => ({ completedAt: new Date().toISOString(), note: 'went well' }),
  },
  {
    name: 'courses.goals-of-care',
    path: (ids) => `/v1/courses/${ids.course}/goals-of-care`,
    pathWithId: (id) => `/v1/courses/${id}/goals-of-care`,
    valid: () => json(GOALS_OF_CARE),
  },
  {
    name: 'courses.stop',
    path: (ids) => `/v1/courses/${ids.course}/stop`,
    pathWithId: (id) => `/v1/courses/${id}/stop`,
    valid: () => ({ reason: 'withdrawn' }),
  },
  { name: 'fhir.QuestionnaireResponse', path: () => '/fhir/R4/QuestionnaireResponse', valid: (ids) => ids.questionnaireResponse },
  { name: 'admin.reconcile', path: () => '/v1/admin/reconcile', valid: () => ({}) },
  {
    name: 'admin.dead-letters.redrive',
    path: (ids) => `/v1/admin/dead-letters/${ids.deadLetter}/redrive`,
    pathWithId: (id) => `/v1/admin/dead-letters/${id}/redrive`,
    valid: () => ({}),
  },
];

/** Every path (as keys) to a value inside `v`, the root included. */
function pathsOf(v: Json, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...pathsOf(x, [...prefix, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...pathsOf(x, [...prefix, k]));
  return out;
}

function setAt(
  root: Json,
  path: Array<string | number>,
  f: (old: Json | undefined, parent: Json, key: string | number) => Json | undefined,
): Json {
  if (path.length === 0) return f(root, null, '') ?? null;
  if (getAt(root, path.slice(0, -1)) === null || typeof getAt(root, path.slice(0, -1)) !== 'object') return root;
  const copy = structuredClone(root);
  let node: any = copy;
  for (const k of path.slice(0, -1)) node = node[k];
  const key = path[path.length - 1] as string | number;
  const next = f(node[key], node, key);
  if (next === undefined) {
    if (Array.isArray(node)) node.splice(key as number, 1);
    else delete node[key];
  } else node[key] = next;
  return copy;
}

const edgeNumbers = fc.constantFrom(
  0,
  -0,
  -1,
  1,
  0.5,
  -0.5,
  2 ** 31,
  -(2 ** 31),
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
  2 ** 53 + 2,
  1e308,
  -1e308,
  5e-324,
  1e21,
  3.000000000000001,
);
const hugeString = fc.constantFrom(10_000, 200_000, 1_200_000).map((n) => 'x'.repeat(n));
const weirdString = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\uFEFF',
    '\u202E',
    '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
    '\uD800',
    '../../etc/passwd',
    "'; DROP TABLE resources; --",
    '__proto__',
    'constructor',
    '2026-02-30T25:61:00Z',
    'NaN',
    'Infinity',
    '{}',
  ),
);
/** What FHIR and PostgreSQL refuse in text: lone surrogates, NUL, other control characters. */
const HOSTILE_CHARACTERS = [
  '\uD800',
  '\uDBFF',
  '\uDC00',
  '\uDFFF',
  '\u0000',
  '\u0001',
  '\u0007',
  '\u001B',
  '\u007F',
  '\uFFFE',
  '\uFFFF',
] as const;
/** Dates outside what every stored and derived date fits, or in the future. */
const hostileDate = fc.oneof(
  fc.constantFrom(
    '9999-12-31T23:59:59Z',
    '9999-12-31',
    '2099-12-31T23:59:59+14:00',
    '2100-01-01T00:00:00Z',
    '1899-12-31T23:59:59Z',
    '0001-01-01T00:00:00Z',
    '2026-02-30T10:00:00Z',
    '2026-13-01',
    '+275760-09-13T00:00:00Z',
    '10000-01-01T00:00:00Z',
    '2026-03-01T09:30:00+15:00',
  ),
  fc.integer({ min: 1, max: 400 * 365 }).map((days) => new Date(Date.now() + days * 86_400_000).toISOString()),
);
/** A string spoiled by one class of hostile input, keeping the rest of it. */
const spoilString = (old: string): fc.Arbitrary<Json> =>
  fc.oneof(
    fc
      .tuple(fc.constantFrom(...HOSTILE_CHARACTERS), fc.nat({ max: Math.max(old.length, 0) }))
      .map(([c, at]) => old.slice(0, at) + c + old.slice(at)),
    hostileDate,
    fc.constantFrom('javascript:alert(1)', 'urn:oid:', 'urn:uuid:x', 'MRN', 'http://', ' ', '\t', 'x'.repeat(5000)),
  );
const anyJson: fc.Arbitrary<Json> = fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>;
const wrongValue: fc.Arbitrary<Json> = fc.oneof(
  anyJson,
  edgeNumbers,
  weirdString,
  hugeString,
  fc.constant(null),
  fc.boolean(),
  fc.constant<Json>([]),
  fc.constant<Json>({}),
);

type Mutation = (valid: Json) => fc.Arbitrary<Json>;

/** Near-valid bodies: one or two edits of a valid body. */
const mutate: Mutation = (valid) => {
  const one = (body: Json): fc.Arbitrary<Json> => {
    const paths = pathsOf(body);
    const objectPaths = paths.filter((p) => {
      const node = getAt(body, p);
      return node !== null && typeof node === 'object' && !Array.isArray(node);
    });
    const stringPaths = paths.filter((p) => typeof getAt(body, p) === 'string');
    return fc.oneof(
      // a string field spoiled: a lone surrogate, NUL or control character inside it, a hostile date or URI in its place
      ...(stringPaths.length > 0
        ? [
            {
              weight: 2,
              arbitrary: fc
                .constantFrom(...stringPaths)
                .chain((p) => spoilString(getAt(body, p) as string).map((v) => setAt(body, p, () => v))),
            },
          ]
        : []),
      // a field replaced by a value of another type, an edge number, a weird or huge string
      fc.tuple(fc.constantFrom(...paths), wrongValue).map(([p, v]) => setAt(body, p, () => v)),
      // a field removed (the whole body, when it has no field)
      fc.constantFrom(...paths).map((p) => setAt(body, p, () => undefined)),
      // an extra key
      fc
        .tuple(
          fc.constantFrom(...(objectPaths.length > 0 ? objectPaths : [[]])),
          fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'resourceType', 'id')),
          anyJson,
        )
        .map(([p, k, v]) =>
          setAt(body, p, (old) => (old && typeof old === 'object' && !Array.isArray(old) ? { ...old, [k]: v } : { [k]: v })),
        ),
      // a number nudged to an edge
      fc
        .tuple(fc.constantFrom(...paths), edgeNumbers)
        .map(([p, n]) => setAt(body, p, (old) => (typeof old === 'number' ? n : (old ?? null)))),
    );
  };
  return one(valid).chain((b) => fc.oneof({ weight: 3, arbitrary: fc.constant(b) }, { weight: 1, arbitrary: one(b) }));
};

function getAt(root: Json, path: Array<string | number>): Json | undefined {
  let node: any = root;
  for (const k of path) node = node?.[k];
  return node;
}

export interface FuzzCase {
  readonly body: Json | undefined;
  /** Sent as raw text instead of JSON (invalid JSON). */
  readonly raw?: string;
  readonly id?: string;
  readonly idempotencyKey?: string;
  /** Sent with this Content-Encoding, as bytes that do not decompress. */
  readonly garbled?: 'gzip' | 'br' | 'deflate';
}

export function caseArbitrary(target: FuzzTarget, valid: Json): fc.Arbitrary<FuzzCase> {
  const body = fc.oneof(
    { weight: 2, arbitrary: anyJson },
    { weight: 6, arbitrary: mutate(valid) },
    { weight: 1, arbitrary: fc.constant(valid) },
  );
  return fc
    .record(
      {
        body,
        raw: fc.option(fc.constantFrom('{', '{"a":}', '[1,2', 'nul', '{"a":1}}', '\u0000', '"\\ud800"', '{"a":1,"a":2}'), { freq: 15 }),
        id: target.pathWithId
          ? fc.option(
              fc.oneof(
                fc.uuid(),
                weirdString.filter((s) => s.length > 0),
                fc.constantFrom('0', '-1', '1e3', '99999999999999999999'),
              ),
              { freq: 8 },
            )
          : fc.constant(null),
        idempotencyKey: fc.option(fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), fc.constantFrom('x'.repeat(300), '')), { freq: 10 }),
        garbled: fc.option(fc.constantFrom('gzip' as const, 'br' as const, 'deflate' as const), { freq: 25 }),
      },
      { requiredKeys: ['body'] },
    )
    .map((c) => ({
      body: c.body,
      ...(c.raw ? { raw: c.raw } : {}),
      ...(c.id ? { id: c.id } : {}),
      ...(c.idempotencyKey !== null && c.idempotencyKey !== undefined ? { idempotencyKey: c.idempotencyKey } : {}),
      ...(c.garbled ? { garbled: c.garbled } : {}),
    }));
}

const TABLES = [
  'resources',
  'resource_history',
  'patient_identifiers',
  'screenings',
  'courses',
  'dosing_sessions',
  'follow_ups',
  'goals_of_care',
  'outbox',
  'sync_state',
  'idempotency_keys',
];

/** A fingerprint of every table: row counts, plus versions and outbox states (updates in place). */
export async function tableFingerprint(db: DeploymentDb): Promise<string> {
  const counts = TABLES.map((t) => `(SELECT count(*) FROM ${t})::text AS ${t}`).join(', ');
  const rows = await db.query<Record<string, string>>(
    `SELECT ${counts},
      (SELECT coalesce(sum(version_id), 0) FROM resources)::text AS versions,
      (SELECT count(*) FROM outbox WHERE dead_at IS NOT NULL)::text AS dead,
      (SELECT count(*) FROM outbox WHERE completed_at IS NOT NULL)::text AS completed`,
  );
  return JSON.stringify(rows[0]);
}

export interface FuzzServer {
  readonly url: string;
  readonly ids: FuzzIds;
  close(): Promise<void>;
}

/** Serves `app` on loopback and creates the records the endpoints' valid bodies refer to. */
export async function startFuzzServer(app: Express, db: DeploymentDb): Promise<FuzzServer> {
  const server: Server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const reviewable = await postJson(`${url}/v1/screenings`, screeningRequest({ contraindications: { recurrentCystitis: true } }));
  const eligible = await postJson(`${url}/v1/screenings`, screeningRequest());
  const forCourse = await postJson(`${url}/v1/screenings`, screeningRequest());
  const course = await postJson(`${url}/v1/courses`, { screeningId: forCourse.body.screeningId, startDate: '2026-03-01' });
  const session = await postJson(`${url}/v1/courses/${course.body.courseId}/dosing-sessions`, sessionRequest(1));
  if (session.status !== 201) throw new Error(`fuzz setup: session ${session.status} ${JSON.stringify(session.body)}`);
  const qr = (eligible.body.resources.entry as Array<{ resource: { resourceType: string } }>).find(
    (e) => e.resource.resourceType === 'QuestionnaireResponse',
  )?.resource as Record<string, Json>;
  const { id: _id, meta: _meta, ...questionnaireResponse } = qr;
  const [row] = await db.query<{ id: number }>('SELECT id FROM outbox ORDER BY id LIMIT 1');
  await db.query("UPDATE outbox SET dead_at = now(), last_error = 'fuzz fixture' WHERE id = $1", [row?.id]);
  return {
    url,
    ids: {
      reviewableScreening: reviewable.body.screeningId,
      eligibleScreening: eligible.body.screeningId,
      course: course.body.courseId,
      followUp: session.body.followUps[0].id,
      deadLetter: Number(row?.id),
      questionnaireResponse: questionnaireResponse as Json,
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function safeEncode(id: string): string {
  try {
    return encodeURIComponent(id);
  } catch {
    return encodeURIComponent(id.replace(/[\uD800-\uDFFF]/g, '?'));
  }
}

export interface FuzzResult {
  readonly tried: number;
  readonly statuses: Record<string, number>;
  /** The seed the run used: give it back to fuzzEndpoint to generate the same requests. */
  readonly seed: number;
}

const GARBLED: Readonly<Record<NonNullable<FuzzCase['garbled']>, Buffer>> = {
  gzip: Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.from('garbage')]),
  br: Buffer.from('xx'),
  deflate: Buffer.from('not deflate'),
};

/**
 * Sends one case and checks the answer: never a 5xx; every 4xx an OperationOutcome; a
 * rejected request writes nothing. Throws, naming the endpoint, when a property fails.
 * Returns the status.
 */
export async function checkCase(s: FuzzServer, db: DeploymentDb, target: FuzzTarget, c: FuzzCase): Promise<number> {
  const before = await tableFingerprint(db);
  const path = c.id !== undefined && target.pathWithId ? target.pathWithId(safeEncode(c.id)) : target.path(s.ids);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (c.idempotencyKey !== undefined) headers['idempotency-key'] = c.idempotencyKey;
  if (c.garbled) headers['content-encoding'] = c.garbled;
  const body = c.garbled ? GARBLED[c.garbled] : (c.raw ?? JSON.stringify(c.body ?? null));
  const send = () => fetch(`${s.url}${path}`, { method: 'POST', headers, body });
  let res = await send();
  let text = await res.text();
  // A 503 says a dependency was too slow and nothing was accepted, not that the input broke
  // anything: retry it once, as a client would. Any other 5xx, or a second 503, fails.
  if (res.status === 503 && /"transient"/.test(text)) {
    await new Promise((r) => setTimeout(r, 1000));
    res = await send();
    text = await res.text();
  }
  if (res.status >= 500) throw new Error(`${target.name}: ${res.status} ${text.slice(0, 500)}`);
  if (res.status >= 400) {
    let outcome: { resourceType?: string; issue?: unknown[] } | undefined;
    try {
      outcome = JSON.parse(text);
    } catch {
      throw new Error(`${target.name}: ${res.status} body is not JSON: ${text.slice(0, 200)}`);
    }
    if (outcome?.resourceType !== 'OperationOutcome' || !Array.isArray(outcome.issue) || outcome.issue.length === 0) {
      throw new Error(`${target.name}: ${res.status} body is not an OperationOutcome: ${text.slice(0, 300)}`);
    }
    const after = await tableFingerprint(db);
    if (after !== before) throw new Error(`${target.name}: rejected with ${res.status} but wrote: ${before} -> ${after}`);
  }
  return res.status;
}

/** A fixed seed per endpoint, so a test run generates the same requests every time. */
export function fixedSeed(base: number, target: FuzzTarget): number {
  let h = base | 0;
  for (const ch of target.name) h = (Math.imul(h, 31) + ch.charCodeAt(0)) | 0;
  return h;
}

/**
 * Sends `runs` generated requests to one endpoint, one at a time, and checks each answer
 * (checkCase). Throws (through fast-check, with a shrunk counterexample and its seed) when
 * a property fails. Without `seed`, fast-check draws one; the result says which.
 */
export async function fuzzEndpoint(s: FuzzServer, db: DeploymentDb, target: FuzzTarget, runs: number, seed?: number): Promise<FuzzResult> {
  const statuses: Record<string, number> = {};
  let tried = 0;
  const used = seed ?? (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;
  await fc.assert(
    fc.asyncProperty(caseArbitrary(target, target.valid(s.ids)), async (c) => {
      tried++;
      const status = await checkCase(s, db, target, c).catch((err: unknown) => {
        // fast-check prints a case as [object Object]: name it, so it can join the corpus.
        const shown = JSON.stringify(c, (_k, v: unknown) =>
          typeof v === 'string' && v.length > 200 ? `${v.slice(0, 200)}…(${v.length})` : v,
        );
        throw new Error(`${err instanceof Error ? err.message : String(err)}\ncase: ${shown}`);
      });
      statuses[status] = (statuses[status] ?? 0) + 1;
    }),
    { numRuns: runs, seed: used, endOnFailure: true },
  );
  return { tried, statuses, seed: used };
}
