import { gzipSync } from 'node:zlib';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { sessionRequest } from '@kap/testkit/bodies';
import { GOALS_OF_CARE } from '@kap/testkit/fixtures';
import { createApiServer } from '@kap/api';
import { startApiHarness, type ApiHarness } from '@kap/testkit/api-harness';
import { rawExchange } from '@kap/testkit/raw-http';
import { screeningRequest } from '@kap/testkit/requests';

/**
 * The hostile-input suite (issue 14): every defect a probe of about 2,300 requests found,
 * and every class of bad input on every endpoint, each answered with a 4xx
 * OperationOutcome naming the field, changing nothing, leaking nothing.
 */
jest.setTimeout(120_000);

const LONE_HIGH = '\ud800';
const LONE_LOW = '\udc00';
const NUL = 'a\u0000b';
const BELL = 'a\u0007b';

let api: ApiHarness;
let server: Server;
let base: string;
let port: number;
const logLines: string[] = [];

interface Ids {
  eligible: string;
  reviewable: string;
  course: string;
  followUp: string;
  deadLetter: number;
}
let ids: Ids;

async function send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, body: json, headers: res.headers };
}
const post = (path: string, body: unknown, headers: Record<string, string> = {}) => send('POST', path, body, headers);

async function fingerprint(): Promise<string> {
  const tables = ['resources', 'screenings', 'courses', 'dosing_sessions', 'follow_ups', 'goals_of_care', 'outbox', 'idempotency_keys'];
  const rows = await api.db.query(
    `SELECT ${tables.map((t) => `(SELECT count(*) FROM ${t})::int AS ${t}`).join(', ')}, (SELECT coalesce(sum(version_id),0) FROM resources)::int AS versions`,
  );
  return JSON.stringify(rows[0]);
}

function expectOutcome(res: { status: number; body: any }, status: number, expression?: string): void {
  expect({ status: res.status, type: res.body?.resourceType }).toEqual({ status, type: 'OperationOutcome' });
  if (expression) expect(res.body.issue.flatMap((i: { expression?: string[] }) => i.expression ?? [])).toContain(expression);
}

/** The day of screeningRequest()'s default performedAt: the courses here start then, so every fixture date is inside them. */
const SCREENING_DAY = '2026-03-01';

/** A fresh course with session 1 recorded; its first follow-up. */
async function freshCourse(): Promise<{ course: string; followUp: string; screening: string }> {
  const s = await post('/v1/screenings', screeningRequest());
  const c = await post('/v1/courses', { screeningId: s.body.screeningId, startDate: SCREENING_DAY });
  const session = await post(`/v1/courses/${c.body.courseId}/dosing-sessions`, sessionRequest(1));
  expect(session.status).toBe(201);
  return { course: c.body.courseId, followUp: session.body.followUps[0].id, screening: s.body.screeningId };
}

beforeAll(async () => {
  const logger = pino({ level: 'trace' }, { write: (line: string) => void logLines.push(line) });
  api = await startApiHarness({ env: { BODY_LIMIT: '256kb', HTTP_HEADERS_TIMEOUT_MS: '400', HTTP_BODY_TIMEOUT_MS: '300' }, logger });
  server = createApiServer(api.app, api.config, logger);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  const reviewable = await post('/v1/screenings', screeningRequest({ contraindications: { recurrentCystitis: true } }));
  const eligible = await post('/v1/screenings', screeningRequest());
  const fresh = await freshCourse();
  const [row] = await api.db.query<{ id: number }>('SELECT id FROM outbox ORDER BY id LIMIT 1');
  await api.db.query("UPDATE outbox SET dead_at = now(), last_error = 'fixture' WHERE id = $1", [row?.id]);
  ids = {
    eligible: eligible.body.screeningId,
    reviewable: reviewable.body.screeningId,
    course: fresh.course,
    followUp: fresh.followUp,
    deadLetter: Number(row?.id),
  };
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await api?.close();
});

/** Every POST endpoint, with a valid body (the values the classes below are put into). */
const ENDPOINTS = (): Array<{ name: string; path: string; body: () => any; texts: string[]; dates: string[] }> => [
  {
    name: 'screenings',
    path: '/v1/screenings',
    body: () =>
      screeningRequest({
        patient: {
          system: 'urn:oid:2.16.840.1.113883.19.5.99999.1',
          value: `H-${Math.random()}`,
          name: { family: 'Synthetic', given: ['Test'] },
          birthDate: '1950-04-02',
        },
      }),
    texts: ['patient.value', 'patient.name.family', 'patient.name.given[0]'],
    dates: ['performedAt', 'patient.birthDate', 'consent.signedAt'],
  },
  {
    name: 'review',
    path: `/v1/screenings/${ids.reviewable}/review`,
    body: () => ({ decision: 'approved', reviewer: 'Dr. Fuzz', note: 'ok' }),
    texts: ['reviewer', 'note'],
    dates: [],
  },
  {
    name: 'courses',
    path: '/v1/courses',
    body: () => ({ screeningId: ids.eligible, startDate: '2026-03-05' }),
    texts: ['screeningId'],
    dates: ['startDate'],
  },
  {
    name: 'dosing-sessions',
    path: `/v1/courses/${ids.course}/dosing-sessions`,
    body: () => ({ ...sessionRequest(2), adverseEvents: [{ description: 'nausea', severity: 'mild' }] }),
    texts: ['adverseEvents[0].description'],
    dates: ['start', 'end', 'vitals[0].at'],
  },
  {
    name: 'follow-up complete',
    path: `/v1/follow-ups/${ids.followUp}/complete`,
    body: () => ({ completedAt: new Date().toISOString(), note: 'fine' }),
    texts: ['note'],
    dates: ['completedAt'],
  },
  {
    name: 'goals-of-care',
    path: `/v1/courses/${ids.course}/goals-of-care`,
    body: () => structuredClone(GOALS_OF_CARE),
    texts: ['participants[0]', 'values[0]', 'goals[0].description', 'preferences.placeOfCare', 'preferences.codeStatus', 'decisions[0]'],
    dates: ['discussedAt'],
  },
  { name: 'stop', path: `/v1/courses/${ids.course}/stop`, body: () => ({ reason: 'withdrawn' }), texts: [], dates: [] },
  { name: 'redrive', path: `/v1/admin/dead-letters/${ids.deadLetter}/redrive`, body: () => ({}), texts: [], dates: [] },
  {
    name: 'reconcile',
    path: '/v1/admin/reconcile',
    body: () => ({ patient: { system: 'urn:oid:2.16.840.1.113883.19.5.99999.1', value: 'R-1' } }),
    texts: ['patient.value'],
    dates: [],
  },
];

/** Sets a value at a path such as `patient.name.given[0]`. */
function setPath(body: any, path: string, value: unknown): any {
  const copy = structuredClone(body);
  const keys = path.replace(/\[(\d+)\]/g, '.$1').split('.');
  let node = copy;
  for (const k of keys.slice(0, -1)) node = node[k];
  node[keys[keys.length - 1] as string] = value;
  return copy;
}

describe('1, 3: text that FHIR and PostgreSQL refuse is a 400 on its field, in every text field of every endpoint', () => {
  const classes: Array<[string, (v: string) => string]> = [
    ['a lone high surrogate', (v) => `${v}${LONE_HIGH}`],
    ['a lone low surrogate', (v) => `${LONE_LOW}${v}`],
    ['a NUL', () => NUL],
    ['a control character', () => BELL],
  ];
  it.each(classes)('%s', async (_name, spoil) => {
    const qr = await questionnaireResponse();
    const before = await fingerprint();
    for (const endpoint of ENDPOINTS()) {
      for (const field of endpoint.texts) {
        const res = await post(endpoint.path, setPath(endpoint.body(), field, spoil('x')));
        expectOutcome(res, 400, field);
      }
    }
    // The FHIR entry point: the patient's identifier and name in subject.
    for (const [field, at] of [
      ['QuestionnaireResponse.subject.identifier.value', (q: any) => (q.subject.identifier.value = spoil('x'))],
      ['QuestionnaireResponse.subject.display', (q: any) => (q.subject.display = spoil('x'))],
    ] as const) {
      const body = structuredClone(qr);
      at(body);
      expectOutcome(await post('/fhir/R4/QuestionnaireResponse', body), 400, field);
    }
    expect(await fingerprint()).toBe(before);
  });

  it('the review counterexample from the fuzzing corpus', async () => {
    const res = await post(`/v1/screenings/${ids.reviewable}/review`, { decision: 'approved', reviewer: '\ud800' });
    expectOutcome(res, 400, 'reviewer');
  });

  it('a NUL in a body id (POST /v1/courses {"screeningId":"a\\u0000b"})', async () => {
    expectOutcome(await post('/v1/courses', { screeningId: NUL }), 400, 'screeningId');
  });
});

async function questionnaireResponse(): Promise<any> {
  const s = await post('/v1/screenings', screeningRequest());
  const qr = s.body.resources.entry.find((e: any) => e.resource.resourceType === 'QuestionnaireResponse').resource;
  const { id: _id, meta: _meta, ...rest } = qr;
  return { ...rest, subject: { identifier: { ...rest.subject.identifier, value: `Q-${Math.random()}` }, display: 'Synthetic Test' } };
}

describe('4, 10: every date fits one range; a far-future or implausible date is a 400 on its field', () => {
  it.each(['9999-12-31T23:59:59Z', '2099-06-01T00:00:00Z', '1899-12-31T23:00:00Z'])(
    '%s in every date field of every endpoint',
    async (instant) => {
      const before = await fingerprint();
      for (const endpoint of ENDPOINTS()) {
        for (const field of endpoint.dates) {
          const value = /birthDate|startDate/.test(field) ? instant.slice(0, 10) : instant;
          expectOutcome(await post(endpoint.path, setPath(endpoint.body(), field, value)), 400, field);
        }
      }
      expect(await fingerprint()).toBe(before);
    },
  );

  it('a session ending in year 9999 (its follow-ups would fall due in year 10000)', async () => {
    const body = { ...sessionRequest(2), end: '9999-12-31T23:59:59Z' };
    expectOutcome(await post(`/v1/courses/${ids.course}/dosing-sessions`, body), 400, 'end');
  });

  it('completedAt 9999 and a birth date in 2099', async () => {
    expectOutcome(await post(`/v1/follow-ups/${ids.followUp}/complete`, { completedAt: '9999-01-01T00:00:00Z' }), 400, 'completedAt');
    const s = screeningRequest();
    expectOutcome(await post('/v1/screenings', { ...s, patient: { ...s.patient, birthDate: '2099-01-01' } }), 400, 'patient.birthDate');
  });
});

describe('10: clinical plausibility', () => {
  it('a time in the future, beyond a small clock skew', async () => {
    const soon = new Date(Date.now() + 3600_000).toISOString();
    expectOutcome(await post('/v1/screenings', screeningRequest({ performedAt: soon })), 400, 'performedAt');
    const session = sessionRequest(2);
    expectOutcome(await post(`/v1/courses/${ids.course}/dosing-sessions`, { ...session, end: soon }), 400, 'end');
  });

  it('a session before its course screening', async () => {
    const s = await post('/v1/screenings', screeningRequest({ performedAt: new Date(Date.now() - 3600_000).toISOString() }));
    const c = await post('/v1/courses', { screeningId: s.body.screeningId });
    const early = new Date(Date.now() - 30 * 86_400_000);
    const body = {
      ...sessionRequest(1),
      start: early.toISOString(),
      end: new Date(early.getTime() + 3600_000).toISOString(),
      vitals: [{ at: early.toISOString(), systolic: 120, diastolic: 80, heartRate: 70 }],
    };
    expectOutcome(await post(`/v1/courses/${c.body.courseId}/dosing-sessions`, body), 400, 'start');
  });

  it('a vital sign outside its session, and systolic not above diastolic', async () => {
    const session = sessionRequest(2);
    const outside = { ...session, vitals: [{ ...session.vitals[0], at: '2020-01-01T10:00:00Z' }] };
    expectOutcome(await post(`/v1/courses/${ids.course}/dosing-sessions`, outside), 400, 'vitals[0].at');
    const swapped = { ...session, vitals: [{ ...session.vitals[0], systolic: 60, diastolic: 190 }] };
    expectOutcome(await post(`/v1/courses/${ids.course}/dosing-sessions`, swapped), 400, 'vitals[0].systolic');
    expectOutcome(
      await post('/v1/screenings', screeningRequest({ vitals: { systolic: 60, diastolic: 190, heartRate: 70 } })),
      400,
      'vitals.systolic',
    );
  });

  it("a dose level other than the model's is 409 without doseDeviationReason; with it, the reason is on the MedicationAdministration", async () => {
    const fresh = await (async () => {
      const s = await post('/v1/screenings', screeningRequest());
      return (await post('/v1/courses', { screeningId: s.body.screeningId, startDate: SCREENING_DAY })).body.courseId as string;
    })();
    const before = await fingerprint();
    const high = { ...sessionRequest(1), doseLevel: 'high' };
    const refused = await post(`/v1/courses/${fresh}/dosing-sessions`, high);
    expectOutcome(refused, 409, 'doseLevel');
    expect(await fingerprint()).toBe(before);
    const given = await post(`/v1/courses/${fresh}/dosing-sessions`, { ...high, doseDeviationReason: 'Tolerated a higher test dose' });
    expect(given.status).toBe(201);
    const ma = given.body.resources.entry.map((e: any) => e.resource).find((r: any) => r.resourceType === 'MedicationAdministration');
    expect(ma.note[0].text).toMatch(/Reason: Tolerated a higher test dose/);
  });

  it('duplicate or decreasing follow-up offsets, or one beyond 14 days', async () => {
    for (const [offsets, at] of [
      [['PT24H', 'PT24H'], 'followUpOffsets[1]'],
      [['P7D', 'PT72H'], 'followUpOffsets[1]'],
      [['PT24H', 'P15D'], 'followUpOffsets[1]'],
    ] as const) {
      expectOutcome(await post('/v1/courses', { screeningId: ids.eligible, followUpOffsets: offsets }), 400, at);
    }
  });

  it('an identifier system that is not an absolute URI', async () => {
    for (const system of ['javascript:alert(1)', 'MRN', 'urn:oid:abc', 'urn:uuid:nope', 'http://', 'urn:oid:1.2 3']) {
      const s = screeningRequest();
      expectOutcome(await post('/v1/screenings', { ...s, patient: { ...s.patient, system } }), 400, 'patient.system');
    }
    const s = screeningRequest();
    for (const system of ['urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e', 'https://hospital.example.org/mrn']) {
      expect((await post('/v1/screenings', { ...s, patient: { ...s.patient, system, value: `U-${Math.random()}` } })).status).toBe(201);
    }
  });
});

describe('5: a body that does not decompress is 400, on every endpoint', () => {
  it.each([
    ['gzip', Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.from('garbage')])],
    ['br', Buffer.from('xx')],
    ['deflate', Buffer.from('not deflate')],
  ])('%s', async (encoding, payload) => {
    const before = await fingerprint();
    for (const endpoint of [...ENDPOINTS().map((e) => e.path), '/fhir/R4/QuestionnaireResponse']) {
      const res = await fetch(`${base}${endpoint}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
        body: payload,
      });
      expectOutcome({ status: res.status, body: await res.json() }, 400);
    }
    expect(await fingerprint()).toBe(before);
  });

  it('a well-formed gzip body is read', async () => {
    const res = await fetch(`${base}/v1/screenings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify(screeningRequest())),
    });
    expect(res.status).toBe(201);
  });
});

describe('6, 7: slow and oversized clients', () => {
  it('a body that never arrives gets an OperationOutcome 408, logged as a client error', async () => {
    const from = logLines.length;
    const answer = await rawExchange(port, [
      'POST /v1/screenings HTTP/1.1\r\nHost: kap.test\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n',
    ]);
    expect(answer.status).toBe(408);
    expect(answer.body?.resourceType).toBe('OperationOutcome');
    const lines = logLines.slice(from).map((l) => JSON.parse(l) as { level: number });
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  });

  it('headers that never end get an OperationOutcome 408', async () => {
    const answer = await rawExchange(port, ['POST /v1/screenings HTTP/1.1\r\nHost: kap.test\r\n']);
    expect(answer.status).toBe(408);
    expect(answer.body?.resourceType).toBe('OperationOutcome');
  });

  it.each([
    ['a 100 KB path', `GET /v1/courses/${'a'.repeat(100_000)} HTTP/1.1\r\nHost: kap.test\r\n\r\n`],
    [
      'a 100 KB Idempotency-Key',
      `POST /v1/screenings HTTP/1.1\r\nHost: kap.test\r\nIdempotency-Key: ${'k'.repeat(100_000)}\r\nContent-Length: 2\r\n\r\n{}`,
    ],
    ['a 20 KB path', `GET /v1/courses/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: kap.test\r\n\r\n`],
  ])('%s is a readable 431, not a reset', async (_name, request) => {
    const answer = await rawExchange(port, [request]);
    expect(answer.error).toBeUndefined();
    expect(answer.status).toBe(431);
    expect(answer.body?.resourceType).toBe('OperationOutcome');
  });

  it('no X-Powered-By', async () => {
    const res = await send('GET', '/health');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });
});

describe('8, 9, 13: idempotency', () => {
  it('20 parallel POST /v1/courses with one key: one course, every answer the replayed 201', async () => {
    const s = await post('/v1/screenings', screeningRequest());
    const results = await Promise.all(
      Array.from({ length: 20 }, () => post('/v1/courses', { screeningId: s.body.screeningId }, { 'idempotency-key': 'race-courses-20' })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(201));
    expect(new Set(results.map((r) => r.text)).size).toBe(1);
    const [row] = await api.db.query<{ n: number }>('SELECT count(*)::int AS n FROM courses WHERE screening_id = $1', [s.body.screeningId]);
    expect(row?.n).toBe(1);
  });

  it('one result per key on every POST endpoint under concurrency', async () => {
    const fresh = await freshCourse();
    const s = await post('/v1/screenings', screeningRequest({ contraindications: { recurrentCystitis: true } }));
    const eligible = await post('/v1/screenings', screeningRequest());
    const qr = await questionnaireResponse();
    const [row] = await api.db.query<{ id: number }>('SELECT id FROM outbox WHERE dead_at IS NULL ORDER BY id DESC LIMIT 1');
    await api.db.query("UPDATE outbox SET dead_at = now(), last_error = 'fixture' WHERE id = $1", [row?.id]);
    const cases: Array<[string, unknown]> = [
      ['/v1/screenings', screeningRequest()],
      [`/v1/screenings/${s.body.screeningId}/review`, { decision: 'approved', reviewer: 'Dr. Race' }],
      ['/v1/courses', { screeningId: eligible.body.screeningId }],
      [`/v1/courses/${fresh.course}/dosing-sessions`, sessionRequest(2)],
      [`/v1/follow-ups/${fresh.followUp}/complete`, { completedAt: new Date().toISOString() }],
      [`/v1/courses/${fresh.course}/goals-of-care`, GOALS_OF_CARE],
      ['/fhir/R4/QuestionnaireResponse', qr],
      [`/v1/admin/dead-letters/${row?.id}/redrive`, {}],
      [`/v1/courses/${fresh.course}/stop`, { reason: 'completed' }],
      ['/v1/admin/reconcile', {}],
    ];
    for (const [path, body] of cases) {
      const key = `race-${path}`;
      const results = await Promise.all(Array.from({ length: 8 }, () => post(path, body, { 'idempotency-key': key })));
      expect({ path, statuses: [...new Set(results.map((r) => r.status))] }).toEqual({ path, statuses: [results[0]?.status] });
      expect(results[0]?.status).toBeLessThan(300);
      expect({ path, bodies: new Set(results.map((r) => r.text)).size }).toEqual({ path, bodies: 1 });
    }
  });

  it('a replay carries the headers of the response (Location) again', async () => {
    const first = await post('/v1/admin/reconcile', {}, { 'idempotency-key': 'K-location' });
    const again = await post('/v1/admin/reconcile', {}, { 'idempotency-key': 'K-location' });
    expect(first.status).toBe(202);
    expect(again.text).toBe(first.text);
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
  });

  it('a key used on one endpoint is 409 on another, and runs nothing', async () => {
    const s = await post('/v1/screenings', screeningRequest(), { 'idempotency-key': 'K-other-endpoint' });
    const before = await fingerprint();
    expectOutcome(
      await post('/v1/courses', { screeningId: s.body.screeningId }, { 'idempotency-key': 'K-other-endpoint' }),
      409,
      'header.Idempotency-Key',
    );
    expect(await fingerprint()).toBe(before);
  });

  it('a replay is the stored bytes', async () => {
    const body = screeningRequest();
    const first = await post('/v1/screenings', body, { 'idempotency-key': 'K-bytes' });
    // The same request with its keys in another order is the same request.
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const again = await post('/v1/screenings', reordered, { 'idempotency-key': 'K-bytes' });
    expect(again.status).toBe(201);
    expect(again.text).toBe(first.text);
  });
});

describe('11, 12: searches and consistent answers', () => {
  it('a search parameter with NUL, a lone surrogate or a control character is 400 naming it', async () => {
    for (const [param, value] of [
      ['identifier', 'urn:oid:1.2|a%00b'],
      ['_id', 'a%00b'],
      ['identifier', 'urn:oid:1.2|%07'],
    ]) {
      expectOutcome(await send('GET', `/fhir/R4/Patient?${param}=${value}`), 400, param);
    }
    expectOutcome(await send('GET', `/fhir/R4/Patient?_id=${'a'.repeat(2000)}`), 400, '_id');
  });

  it('a search of patient data without a patient is 400', async () => {
    for (const type of ['Observation', 'Patient', 'CarePlan', 'Task']) expectOutcome(await send('GET', `/fhir/R4/${type}`), 400, 'patient');
  });

  it('bad or unknown query parameters on /v1 are 400 naming them', async () => {
    expectOutcome(await send('GET', '/v1/admin/dead-letters?limit=abc'), 400, 'limit');
    expectOutcome(await send('GET', '/v1/admin/dead-letters?limit=-1'), 400, 'limit');
    expectOutcome(await send('GET', '/v1/admin/dead-letters?offset=1.5'), 400, 'offset');
    expectOutcome(await send('GET', '/v1/admin/dead-letters?limit=1&limit=2'), 400, 'limit');
    expectOutcome(await send('GET', '/v1/admin/dead-letters?lmit=5'), 400, 'lmit');
    expectOutcome(await send('GET', `/v1/courses/${ids.course}?verbose=1`), 400, 'verbose');
    expectOutcome(await post('/v1/screenings?dryRun=true', screeningRequest()), 400, 'dryRun');
    expect((await send('GET', '/v1/admin/dead-letters?limit=5&offset=0')).status).toBe(200);
  });

  it('a wrong method on a known path is 405 with Allow', async () => {
    for (const [method, path, allow] of [
      ['PUT', '/v1/screenings', 'POST'],
      ['DELETE', `/v1/courses/${ids.course}`, 'GET, HEAD'],
      ['GET', '/v1/courses', 'POST'],
      ['PATCH', '/fhir/R4/QuestionnaireResponse', 'GET, HEAD, POST'],
    ] as const) {
      const res = await send(method, path, method === 'GET' || method === 'DELETE' ? undefined : {});
      expectOutcome(res, 405);
      expect(res.headers.get('allow')).toBe(allow);
    }
    expectOutcome(await send('PUT', '/v1/nothing-here', {}), 404);
  });

  it('a QuestionnaireResponse with unknown top-level keys is 400, as a /v1 body is', async () => {
    const qr = await questionnaireResponse();
    expectOutcome(await post('/fhir/R4/QuestionnaireResponse', { ...qr, surprise: 1 }), 400, 'QuestionnaireResponse.surprise');
    expectOutcome(await post('/v1/screenings', { ...screeningRequest(), surprise: 1 }), 400, 'surprise');
  });
});
