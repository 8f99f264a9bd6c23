import { until } from '@kap/testkit/poll';
import { serveClient, type ServedClient } from '@kap/testkit/client';
import { screeningRequest } from '@kap/testkit/requests';
import { startStack, startWebhookReceiver, type Stack } from '@kap/testkit/stack';

jest.setTimeout(60_000);

describe('dead letters', () => {
  let stack: Stack;
  let status = 410;
  let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let client: ServedClient;
  beforeAll(async () => {
    hooks = await startWebhookReceiver(() => status);
    stack = await startStack({ WEBHOOK_URLS: hooks.url });
    client = await serveClient(stack.app);
    stack.startWorker();
  });
  afterAll(async () => {
    await client?.close();
    await stack.close();
    await hooks.close();
  });

  it('keeps a webhook the subscriber refuses, and delivers it once re-driven', async () => {
    const { kap } = client;
    const s = await kap.createScreening({ body: screeningRequest() });
    await kap.createCourse({ body: { screeningId: s.screeningId } });

    let dead: Awaited<ReturnType<typeof kap.listDeadLetters>>['deadLetters'] = [];
    await until(
      async () => {
        dead = (await kap.listDeadLetters()).deadLetters;
        return dead.length === 1;
      },
      20_000,
      'the refused webhook to become a dead letter',
    );
    // A refusal no retry can fix is one attempt, counted on the row operators see.
    expect(dead[0]).toMatchObject({ topic: 'notify', attempts: 1, lastError: expect.stringMatching(/answered 410/) });
    expect(hooks.deliveries).toHaveLength(0);

    // The EHR sync is unaffected by a subscriber's refusal.
    await until(
      async () => {
        const [row] = await stack.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM outbox WHERE topic = 'ehr-sync' AND completed_at IS NULL`,
        );
        return row?.n === 0;
      },
      20_000,
      'the EHR sync',
    );
    status = 204;
    // The same key twice, as a retry after a lost answer: one redrive, one delivery.
    await kap.redriveDeadLetter({ path: { id: String(dead[0]?.id) } }, { idempotencyKey: 'redrive-1' });
    await kap.redriveDeadLetter({ path: { id: String(dead[0]?.id) } }, { idempotencyKey: 'redrive-1' });
    await until(() => hooks.deliveries.length === 1, 20_000, 'the re-driven webhook');
    expect(hooks.deliveries[0]).toMatchObject({ event: 'careplan.updated', signatureValid: true });
    expect((await kap.listDeadLetters()).deadLetters).toEqual([]);
    await stack.drained(20_000);
    expect(hooks.deliveries).toHaveLength(1);
  });
});
