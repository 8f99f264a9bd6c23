import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '@kap/config';
import { DEFAULT_SCREENING_RULES } from '@kap/domain';
import { openDatabase, type DeploymentDb } from '@kap/store';
import pino from 'pino';
import { createApp } from '@kap/api';
import { createApiServer } from '@kap/api';
import { TEST_DATABASE_URL, dropSchema, uniqueSchema } from '@kap/testkit/postgres';
import { rawExchange } from '@kap/testkit/raw-http';
import { screeningRequest } from '@kap/testkit/requests';

/**
 * Canary names, MRNs and birth dates sent through every error path: none may reach a log
 * line (pino's output as written) or an error body. Failures inside the store carry the
 * SQL parameters with them, as pg's and PGlite's errors do.
 */
jest.setTimeout(120_000);

const CANARY = {
  family: 'Quibblethwaite',
  given: 'Zephyrine',
  mrn: 'MRN-CANARY-90210',
  birthDate: '1931-02-27',
  note: 'canary-note-xyzzy',
};
const CANARIES = Object.values(CANARY);
const SYSTEM = 'urn:oid:2.16.840.1.113883.19.5.99999.1';

const canaryPatient = (value = CANARY.mrn) => ({
  system: SYSTEM,
  value,
  name: { family: CANARY.family, given: [CANARY.given] },
  birthDate: CANARY.birthDate,
});

let db: DeploymentDb;
let schema: string;
let server: Server;
let base: string;
let port: number;
const lines: string[] = [];
const bodies: string[] = [];
/** The failure the store throws next, as the database driver would. */
let failNext: ((sql: string, params: unknown[]) => Error) | undefined;
let queueDown = false;

function failing(inner: DeploymentDb): DeploymentDb {
  return {
    kind: inner.kind,
    async query<T>(sql: string, params?: unknown[]): Promise<T[]> {
      if (failNext && /INSERT INTO (resources|patient_identifiers)/i.test(sql)) {
        const make = failNext;
        failNext = undefined;
        throw make(sql, params ?? []);
      }
      return inner.query<T>(sql, params);
    },
    // The options carry the tenant scope: dropped, every write would be no tenant's and fail.
    transaction: (fn, options) => inner.transaction((tx) => fn(failing(tx)), options),
    listen: (channel, onNotify) => inner.listen(channel, onNotify),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
}

/** An error shaped as pg's DatabaseError is: the values in the message, detail, and the parameters. */
function driverError(code: string, message: (params: unknown[]) => string) {
  return (sql: string, params: unknown[]): Error =>
    Object.assign(new Error(message(params)), {
      name: 'DatabaseError',
      code,
      detail: `Failing row contains (${params.map(String).join(', ')})`,
      where: `SQL statement "${sql}"`,
      parameters: params,
      query: sql,
      resource: { name: [{ family: CANARY.family }] },
    });
}

async function send(method: string, path: string, body: string | Buffer | undefined, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body }),
  });
  const text = await res.text();
  if (res.status >= 400) bodies.push(text);
  return { status: res.status, text };
}

beforeAll(async () => {
  schema = uniqueSchema('canary');
  db = await openDatabase({ url: TEST_DATABASE_URL, schema });
  const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
  const config = loadConfig({
    PUBLIC_BASE_URL: 'http://kap.test',
    BODY_LIMIT: '8kb',
    HTTP_HEADERS_TIMEOUT_MS: '400',
    HTTP_BODY_TIMEOUT_MS: '300',
    HTTP_MAX_HEADER_BYTES: '4096',
  });
  const app = createApp({
    config,
    db: failing(db),
    rules: DEFAULT_SCREENING_RULES,
    logger,
    queueCheck: async () => {
      if (queueDown) throw new Error(`redis down while storing ${CANARY.mrn}`);
    },
  });
  server = createApiServer(app, config, logger);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await db?.close();
  await dropSchema(schema);
});

describe('no patient data in any log line or error body', () => {
  it('on every error path', async () => {
    const valid = () => ({ ...screeningRequest(), patient: canaryPatient() });
    const json = (v: unknown) => JSON.stringify(v);
    const expectStatus = async (p: Promise<{ status: number }>, status: number) => expect((await p).status).toBe(status);

    // 400: invalid fields beside the canary patient; a lone surrogate; implausible dates.
    await expectStatus(send('POST', '/v1/screenings', json({ ...valid(), vitals: { systolic: 'high' } })), 400);
    await expectStatus(
      send('POST', '/v1/screenings', json({ ...valid(), patient: { ...canaryPatient(), value: `${CANARY.mrn}\ud800` } })),
      400,
    );
    await expectStatus(
      send(
        'POST',
        '/v1/screenings',
        json({ ...valid(), patient: { ...canaryPatient(), birthDate: '2999-01-01' }, performedAt: '2999-01-01T00:00:00Z' }),
      ),
      400,
    );
    // 400: JSON that does not parse, whose parser message would quote the body.
    await expectStatus(
      send('POST', '/v1/screenings', `{"patient":{"value":"${CANARY.mrn}","name":"${CANARY.family}" ${CANARY.birthDate}`),
      400,
    );
    // 400: a compressed body that does not decompress.
    await expectStatus(
      send('POST', '/v1/screenings', Buffer.from(`\x1f\x8b\x08\x00${CANARY.family}`, 'latin1'), { 'content-encoding': 'gzip' }),
      400,
    );
    // 413, 415, 404, 405.
    await expectStatus(send('POST', '/v1/screenings', json({ ...valid(), padding: `${CANARY.family} `.repeat(1000) })), 413);
    await expectStatus(send('POST', '/v1/screenings', `${CANARY.family} ${CANARY.mrn}`, { 'content-type': 'text/plain' }), 415);
    await expectStatus(
      send('POST', '/v1/screenings/no-such-screening/review', json({ decision: 'approved', reviewer: CANARY.family, note: CANARY.note })),
      404,
    );
    await expectStatus(send('PUT', '/v1/screenings', json(valid())), 405);
    // 409: one key, two bodies.
    await expectStatus(send('POST', '/v1/screenings', json(valid()), { 'idempotency-key': 'canary-key' }), 201);
    await expectStatus(
      send('POST', '/v1/screenings', json({ ...valid(), patient: canaryPatient(`${CANARY.mrn}-2`) }), { 'idempotency-key': 'canary-key' }),
      409,
    );
    // 400 on the FHIR face: an unknown element beside the canary subject, and a search by MRN (the query string is never logged).
    const qr = {
      resourceType: 'QuestionnaireResponse',
      status: 'completed',
      questionnaire: 'x',
      subject: { identifier: { system: SYSTEM, value: CANARY.mrn }, display: CANARY.family },
      extra: CANARY.note,
    };
    await expectStatus(send('POST', '/fhir/R4/QuestionnaireResponse', json(qr)), 400);
    await expectStatus(send('GET', `/fhir/R4/Patient?identifier=${encodeURIComponent(`${SYSTEM}|${CANARY.mrn}`)}`, undefined), 200);
    await expectStatus(send('GET', `/fhir/R4/Patient?name=${CANARY.family}`, undefined), 400);
    // 404: reconciling a patient the adapter does not know.
    await expectStatus(send('POST', '/v1/admin/reconcile', json({ patient: { system: SYSTEM, value: `${CANARY.mrn}-unknown` } })), 404);
    // 503: the queue is down.
    queueDown = true;
    await expectStatus(send('POST', '/v1/screenings', json({ ...valid(), patient: canaryPatient(`${CANARY.mrn}-3`) })), 503);
    queueDown = false;
    // 500: the store fails with the values in its message, detail and parameters.
    failNext = driverError('XX000', (params) => `internal error storing ${params.map((p) => String(p).slice(0, 200)).join(' ')}`);
    await expectStatus(send('POST', '/v1/screenings', json({ ...valid(), patient: canaryPatient(`${CANARY.mrn}-4`) })), 500);
    // 400 by the database backstop: a data exception quoting the value it refused.
    failNext = driverError('22P02', () => `invalid input syntax for type json: "${CANARY.family} ${CANARY.mrn}"`);
    await expectStatus(send('POST', '/v1/screenings', json({ ...valid(), patient: canaryPatient(`${CANARY.mrn}-5`) })), 400);
    // 408 and 431 at the socket, with canaries in what was sent.
    const slow = await rawExchange(port, [
      `POST /v1/screenings HTTP/1.1\r\nHost: kap.test\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"patient":{"value":"${CANARY.mrn}"`,
    ]);
    expect(slow.status).toBe(408);
    bodies.push(slow.text);
    const big = await rawExchange(port, [
      `GET /v1/courses/x HTTP/1.1\r\nHost: kap.test\r\nX-Patient: ${`${CANARY.family} `.repeat(800)}\r\n\r\n`,
    ]);
    expect(big.status).toBe(431);
    bodies.push(big.text);

    // Everything was logged at some level (the test would prove nothing if it were silent)...
    expect(lines.some((l) => /"level":50/.test(l) && /unhandled error/.test(l))).toBe(true);
    expect(lines.some((l) => /input refused by the database/.test(l))).toBe(true);
    expect(lines.length).toBeGreaterThan(15);
    // ...and no canary anywhere.
    for (const canary of CANARIES) {
      const leakedLog = lines.find((l) => l.toLowerCase().includes(canary.toLowerCase()));
      expect({ canary, leakedLog }).toEqual({ canary, leakedLog: undefined });
      const leakedBody = bodies.find((b) => b.toLowerCase().includes(canary.toLowerCase()));
      expect({ canary, leakedBody }).toEqual({ canary, leakedBody: undefined });
    }
  });
});
