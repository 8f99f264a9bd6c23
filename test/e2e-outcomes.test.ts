import type { CarePlan, Communication, Flag, Observation, QuestionnaireResponse } from '@medplum/fhirtypes';
import { until } from '@kap/testkit/poll';
import { serveClient, type ServedClient } from '@kap/testkit/client';
import { runCourseScenario } from '@kap/testkit/course-scenario';
import { auditEhr, ehrAll } from '@kap/testkit/ehr-audit';
import { startStack, startWebhookReceiver, type Stack } from '@kap/testkit/stack';

jest.setTimeout(180_000);

/**
 * What the measures and the item 9 alert put in the EHR, end to end: the real API, worker,
 * Redis and the FHIR sandbox as the EHR, with a webhook subscriber for the palliative team.
 */
describe('outcomes and the self-harm alert reach the EHR and the team', () => {
  let stack: Stack;
  let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let client: ServedClient;

  beforeAll(async () => {
    hooks = await startWebhookReceiver();
    stack = await startStack({ WEBHOOK_URLS: hooks.url });
    client = await serveClient(stack.app);
    stack.startWorker();
  });
  afterAll(async () => {
    await client?.close();
    await stack?.close();
    await hooks?.close();
  });

  it('syncs the responses, banded totals, the safety Flag and the urgent Communication exactly once', async () => {
    // The course is a month old, so its follow-ups fall due at once and escalate while the
    // scenario goes on, as a late record's would; the stop then cancels the open ones.
    const scenario = await runCourseScenario(stack.app);
    await stack.drained(90_000);
    const view = await client.kap.getCourse({ path: { id: scenario.courseId } });
    expect(view.sync.filter((s) => s.status !== 'synced')).toEqual([]);

    const audit = await auditEhr(stack.db, stack.sandbox.url);
    expect(audit.duplicates).toEqual([]);
    expect(audit.missing).toEqual([]);
    expect(audit.ehr).toEqual(audit.local);

    const flags = (await ehrAll(stack.sandbox.url, 'Flag')) as Flag[];
    const safety = flags.filter((f) => f.category?.[0]?.coding?.[0]?.code === 'safety');
    expect(safety).toHaveLength(1);
    expect(safety[0]?.code.coding?.map((c) => c.code)).toEqual(['phq9-self-harm', '44260-8']);
    const communications = (await ehrAll(stack.sandbox.url, 'Communication')) as Communication[];
    const alert = communications.find((c) => c.category?.[0]?.coding?.[0]?.code === 'self-harm-alert');
    expect(alert).toMatchObject({ priority: 'urgent', about: expect.arrayContaining([{ reference: `Flag/${safety[0]?.id}` }]) });

    const responses = (await ehrAll(stack.sandbox.url, 'QuestionnaireResponse')) as QuestionnaireResponse[];
    expect(responses.filter((r) => /kap-phq9\|/.test(r.questionnaire ?? ''))).toHaveLength(3);
    expect(responses.filter((r) => /kap-gad7\|/.test(r.questionnaire ?? ''))).toHaveLength(3);
    const totals = ((await ehrAll(stack.sandbox.url, 'Observation')) as Observation[]).filter(
      (o) => o.code.coding?.[0]?.code === '44261-6',
    );
    expect(totals.map((o) => o.valueInteger).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([...scenario.phq9].sort((a, b) => a - b));
    expect(totals.every((o) => o.interpretation?.[0]?.coding?.[0]?.code?.startsWith('severity-'))).toBe(true);
    // In the EHR, each later total points at its response by the EHR's own id.
    const responseIds = new Set(responses.map((r) => `QuestionnaireResponse/${r.id}`));
    expect(totals.filter((o) => o.derivedFrom?.some((d) => responseIds.has(d.reference ?? ''))).length).toBe(4);

    const [carePlan] = (await ehrAll(stack.sandbox.url, 'CarePlan')) as CarePlan[];
    const outcomes = (carePlan?.activity ?? []).flatMap((a) => a.outcomeReference ?? []);
    // The goals-of-care discussion is an outcome too (its Procedure); the measures add six totals.
    expect(outcomes.filter((r) => r.reference?.startsWith('Observation/'))).toHaveLength(6);
    const observationIds = new Set(((await ehrAll(stack.sandbox.url, 'Observation')) as Observation[]).map((o) => `Observation/${o.id}`));
    expect(outcomes.filter((r) => r.reference?.startsWith('Observation/')).every((r) => observationIds.has(r.reference ?? ''))).toBe(true);

    // The palliative team got the alert as a signed webhook.
    await until(
      async () =>
        hooks.deliveries.some((d) => d.event === 'care-team.notification' && d.body.resource.id === alert?.identifier?.[0]?.value),
      30_000,
      'the self-harm alert as a webhook',
      250,
    );
    expect(hooks.deliveries.every((d) => d.signatureValid)).toBe(true);
  });
});
