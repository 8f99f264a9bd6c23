import { WORK } from '@kap/queue';
import { startStack, type Stack } from '@kap/testkit/stack';

/**
 * `drained()` is what the e2e tests wait on before they look at the EHR: it must not say
 * "nothing left" while a timer that is already due has yet to run (its escalation writes a
 * Task and asks for a sync a moment later), nor wait for a timer days away.
 */
describe('stack.drained', () => {
  let stack: Stack;
  beforeAll(async () => {
    // No worker: the rows below stay exactly as written.
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const timer = async (topic: string, payload: Record<string, unknown>): Promise<number> => {
    const [row] = await stack.db.query<{ id: number }>(
      `INSERT INTO outbox (topic, patient_id, payload, tenant_id, dispatched_at) VALUES ($1, 'p', $2::jsonb, 'default', now()) RETURNING id`,
      [topic, JSON.stringify(payload)],
    );
    return row?.id as number;
  };
  const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

  it('waits for a follow-up or safety-alert timer already due, not for one still ahead', async () => {
    const followUp = await timer(WORK.followUpSchedule.topic, { followUpId: 'f', dueBy: iso(3_600_000), remindAt: iso(3_000_000) });
    const alert = await timer(WORK.safetyAlertEscalation.topic, {
      alertId: '00000000-0000-4000-8000-000000000001',
      escalation: 1,
      dueAt: iso(3_600_000),
    });
    await expect(stack.drained(1_000)).resolves.toBeUndefined();

    await stack.db.query(`UPDATE outbox SET payload = jsonb_set(payload, '{dueBy}', to_jsonb($2::text)) WHERE id = $1`, [
      followUp,
      iso(-1_000),
    ]);
    await expect(stack.drained(600)).rejects.toThrow('outbox still has 1 open rows');
    await stack.db.query('UPDATE outbox SET completed_at = now() WHERE id = $1', [followUp]);

    await stack.db.query(`UPDATE outbox SET payload = jsonb_set(payload, '{dueAt}', to_jsonb($2::text)) WHERE id = $1`, [
      alert,
      iso(-1_000),
    ]);
    await expect(stack.drained(600)).rejects.toThrow('outbox still has 1 open rows');
    await stack.db.query('UPDATE outbox SET completed_at = now() WHERE id = $1', [alert]);
    await expect(stack.drained(1_000)).resolves.toBeUndefined();
  });
});
