import { Writable } from 'node:stream';
import pino from 'pino';
import request from 'supertest';
import { screeningRequest } from '@kap/testkit/requests';
import { startStack, type Stack } from '@kap/testkit/stack';

jest.setTimeout(60_000);

describe('operations: logs, metrics and the queue dashboard', () => {
  let stack: Stack;
  const lines: string[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    stack = await startStack({}, { logger: pino({ level: 'info' }, sink) });
    stack.startWorker();
  });
  afterAll(async () => {
    await stack.close();
  });

  it('logs one JSON line per request with no patient data', async () => {
    const body = screeningRequest();
    const res = await request(stack.app).post('/v1/screenings').set('X-Request-Id', 'req-abc-1').send(body).expect(201);
    expect(res.headers['x-request-id']).toBe('req-abc-1');
    await request(stack.app)
      .get(`/fhir/R4/Patient?identifier=${encodeURIComponent(`${body.patient.system}|${body.patient.value}`)}`)
      .expect(200);
    await stack.drained(30_000);
    const logged = lines.join('');
    const entries = lines.map((l) => JSON.parse(l) as { req?: { id: string; path: string }; res?: { status: number } });
    expect(entries.find((e) => e.req?.id === 'req-abc-1')).toMatchObject({ req: { path: '/v1/screenings' }, res: { status: 201 } });
    for (const secret of [body.patient.value, 'Synthetic', body.patient.birthDate as string]) expect(logged).not.toContain(secret);
  });

  it('serves Prometheus metrics: HTTP, queues, outbox, sync lag, dead letters, jobs', async () => {
    await request(stack.app).post('/v1/screenings').send(screeningRequest()).expect(201);
    await stack.drained(30_000);
    const res = await request(stack.app).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    const text = res.text;
    expect(text).toMatch(/kap_http_requests_total\{method="POST",route="\/v1\/screenings",status="201"\} \d+/);
    expect(text).toMatch(/kap_queue_jobs\{queue="ehr-sync",state="completed"\} [1-9]/);
    expect(text).toMatch(/kap_sync_lag_seconds 0/);
    expect(text).toMatch(/# TYPE kap_dead_letters gauge/);
    expect(text).toMatch(/kap_jobs_total\{queue="ehr-sync",outcome="completed"\} [1-9]/);
    expect(text).toMatch(/kap_job_duration_seconds_bucket/);
    expect(text).not.toMatch(/SYN-/);
  });

  it('serves the queue dashboard', async () => {
    const page = await request(stack.app).get('/admin/queues').expect(200);
    expect(page.text).toMatch(/<html/i);
    const api = await request(stack.app).get('/admin/queues/api/queues').expect(200);
    expect(api.body.queues.map((q: { name: string }) => q.name).sort()).toEqual(['ehr-sync', 'follow-ups', 'notify']);
  });
});
