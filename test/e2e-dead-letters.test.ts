import { until } from '@kap/testkit/poll';
import request from 'supertest';
import { screeningRequest } from '@kap/testkit/requests';
import { startStack, startWebhookReceiver, type Stack } from '@kap/testkit/stack';

jest.setTimeout(60_000);


describe('dead letters', () => {
  let stack: Stack;
  let status = 410;
  let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
  beforeAll(async () => {
    hooks = await startWebhookReceiver(() => status);
    stack = await startStack({ WEBHOOK_URLS: hooks.url });
    stack.startWorker();
  });
  afterAll(async () => {
    await stack.close();
    await hooks.close();
  });

  it('keeps a webhook the subscriber refuses, and delivers it once re-driven', async () => {
    const s = await request(stack.app).post('/v1/screenings').send(screeningRequest()).expect(201);
    await request(stack.app).post('/v1/courses').send({ screeningId: s.body.screeningId }).expect(201);

    let dead: Array<{ id: number; topic: string; lastError: string; attempts: number }> = [];
    await until(async () => {
      dead = (await request(stack.app).get('/v1/admin/dead-letters').expect(200)).body.deadLetters;
      return dead.length === 1;
    }, 20_000, 'the refused webhook to become a dead letter');
    // A refusal no retry can fix is one attempt, counted on the row operators see.
    expect(dead[0]).toMatchObject({ topic: 'notify', attempts: 1, lastError: expect.stringMatching(/answered 410/) });
    expect(hooks.deliveries).toHaveLength(0);

    // The EHR sync is unaffected by a subscriber's refusal.
    await until(async () => {
      const [row] = await stack.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE topic = 'ehr-sync' AND completed_at IS NULL`);
      return row?.n === 0;
    }, 20_000, 'the EHR sync');
    status = 204;
    await request(stack.app).post(`/v1/admin/dead-letters/${dead[0]?.id}/redrive`).set('Idempotency-Key', 'redrive-1').expect(200);
    await request(stack.app).post(`/v1/admin/dead-letters/${dead[0]?.id}/redrive`).set('Idempotency-Key', 'redrive-1').expect(200);
    await until(() => hooks.deliveries.length === 1, 20_000, 'the re-driven webhook');
    expect(hooks.deliveries[0]).toMatchObject({ event: 'careplan.updated', signatureValid: true });
    expect((await request(stack.app).get('/v1/admin/dead-letters').expect(200)).body.deadLetters).toEqual([]);
    await stack.drained(20_000);
    expect(hooks.deliveries).toHaveLength(1);
  });
});
