/**
 * What the adapter asks an OAuth-protected EHR for, and what it does with less, against the
 * sandbox holding each token to its scopes as Medplum 5.0.10 does; and blood pressure that
 * arrives although the EHR refuses the profile it claims.
 */
import { loadConfig } from '@kap/config';
import { startSandbox, type RunningSandbox, type SandboxOptions } from '@kap/ehr-sandbox';
import type { Observation } from '@medplum/fhirtypes';
import request from 'supertest';
import { until } from '@kap/testkit/poll';
import { connectEhr } from '@kap/worker';
import { runEhrCheck } from '@kap/worker';
import { ehrAll } from '@kap/testkit/ehr-audit';
import { screeningRequest } from '@kap/testkit/requests';
import { startStack, type Stack } from '@kap/testkit/stack';

jest.setTimeout(120_000);

const CLIENT = { clientId: 'kap-adapter', clientSecret: 'sandbox-secret-not-for-production' };
const BP_PROFILE = 'http://hl7.org/fhir/StructureDefinition/bp';
const HEART_RATE_PROFILE = 'http://hl7.org/fhir/StructureDefinition/heartrate';
/** A screening's types but its Consent. */
const GRANTED = 'system/Patient.crus system/Observation.crus system/QuestionnaireResponse.crus system/StructureDefinition.rs';

async function oauthSandbox(options: SandboxOptions = {}): Promise<RunningSandbox> {
  return startSandbox({ port: 0, auth: { mode: 'oauth', ...CLIENT }, ...options });
}

function oauthEnv(sandbox: RunningSandbox, extra: Record<string, string> = {}): Record<string, string> {
  return {
    EHR_BASE_URL: sandbox.url,
    EHR_AUTH: 'client-credentials',
    EHR_TOKEN_URL: `${sandbox.rootUrl}/oauth2/token`,
    EHR_CLIENT_ID: CLIENT.clientId,
    EHR_CLIENT_SECRET: CLIENT.clientSecret,
    ...extra,
  };
}

async function syncStates(
  stack: Stack,
): Promise<Array<{ type: string; status: string; last_error: string | null; sent_note: string | null }>> {
  return stack.db.query(
    `SELECT r.resource_type AS type, COALESCE(s.status, 'pending') AS status, s.last_error, s.sent_note
       FROM resources r LEFT JOIN sync_state s ON s.resource_type = r.resource_type AND s.id = r.id
      WHERE r.patient_id IS NOT NULL ORDER BY 1`,
  );
}

async function settled(stack: Stack): Promise<void> {
  await until(async () => (await syncStates(stack)).every((s) => s.status !== 'pending'), 60_000, 'every resource synced or refused', 200);
}

describe('token scopes asked of the EHR', () => {
  let sandbox: RunningSandbox;
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
    await sandbox?.close();
  });

  it('asks one scope per type the adapter uses, in v2 syntax, never a wildcard; the whole screening goes', async () => {
    sandbox = await oauthSandbox();
    stack = await startStack(oauthEnv(sandbox), { sandbox });
    stack.startWorker();
    await request(stack.app).post('/v1/screenings').send(screeningRequest()).expect(201);
    await settled(stack);
    expect((await syncStates(stack)).filter((s) => s.status !== 'synced')).toEqual([]);
    const asked = stack.ehr.tokenGrant()?.asked ?? '';
    expect(asked.split(' ')).toEqual(
      expect.arrayContaining([
        'system/Patient.crus',
        'system/Observation.crus',
        'system/QuestionnaireResponse.crus',
        'system/StructureDefinition.rs',
        'system/Encounter.crus',
      ]),
    );
    expect(asked).not.toContain('*');
  });

  it('names the types and interactions a smaller grant leaves out, sends what it covers and dead-letters the rest by name', async () => {
    sandbox = await oauthSandbox({ grantScopes: GRANTED });
    const env = oauthEnv(sandbox);
    // Told at each token, type by type.
    const told: string[] = [];
    const probe = connectEhr(loadConfig(env), { onShortfall: (lines) => told.push(...lines) });
    await probe.search('Patient', { _id: 'nobody' });
    expect(told).toEqual(
      expect.arrayContaining([
        'Consent: no create, read, update, search (no scope names it)',
        'CarePlan: no create, read, update, search (no scope names it)',
      ]),
    );
    expect(told.join('\n')).not.toMatch(/^(Patient|Observation|QuestionnaireResponse):/m);

    const lines: string[] = [];
    expect(await runEhrCheck(loadConfig(env), { out: (l) => lines.push(l) })).toBe(1);
    expect(lines.join('\n')).toMatch(/FAIL\s+the token does not cover Consent: no create, read, update, search/);

    stack = await startStack(env, { sandbox });
    stack.startWorker();
    await request(stack.app).post('/v1/screenings').send(screeningRequest()).expect(201);
    await settled(stack);
    const states = await syncStates(stack);
    // What the grant covers still goes; the Consent alone is refused, by name.
    expect(states.filter((s) => s.type !== 'Consent').map((s) => `${s.type} ${s.status}`)).toEqual(
      states.filter((s) => s.type !== 'Consent').map((s) => `${s.type} synced`),
    );
    const consent = states.find((s) => s.type === 'Consent');
    expect(consent?.status).toBe('failed');
    expect(consent?.last_error).toMatch(/403/);
    expect(consent?.last_error).toMatch(/does not let this client (create|search) Consent/);
    let dead: Array<{ lastError: string }> = [];
    const app = stack.app;
    await until(
      async () => {
        dead = (await request(app).get('/v1/admin/dead-letters').expect(200)).body.deadLetters;
        return dead.length > 0;
      },
      30_000,
      'the dead letter',
    );
    expect(dead[0]?.lastError).toMatch(/EHR refused 1 resource\(s\): Consent\//);
    expect(dead[0]?.lastError).toContain(`granted "${GRANTED}"`);
  });

  it('warns that the wildcard read/write pair writes nothing where the first scope decides', async () => {
    sandbox = await oauthSandbox();
    const lines: string[] = [];
    const code = await runEhrCheck(loadConfig(oauthEnv(sandbox, { EHR_SCOPE: 'system/*.read system/*.write' })), {
      out: (l) => lines.push(l),
    });
    expect(code).toBe(1);
    expect(lines.join('\n')).toContain('Token scopes asked (EHR_SCOPE): system/*.read system/*.write');
    expect(lines.join('\n')).toMatch(/the token does not cover Patient: no create, update \(decided by system\/\*\.read\)/);
  });
});

describe('a profile claim the EHR refuses', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  const bpPanels = async (s: Stack): Promise<Observation[]> => {
    const all = (await ehrAll(s.sandbox.url, 'Observation')) as Observation[];
    return all.filter((o) => o.code.coding?.some((c) => c.code === '85354-9'));
  };

  it('sends blood pressure without the claim, data unchanged and noted, and leaves the claim out from then on', async () => {
    // The sandbox's default: claimed profiles validated as Medplum 5.0.10 does, `bp` refused.
    stack = await startStack();
    stack.startWorker();
    await request(stack.app)
      .post('/v1/screenings')
      .send(screeningRequest({ vitals: { systolic: 132, diastolic: 84, heartRate: 71 } }))
      .expect(201);
    await settled(stack);
    const states = await syncStates(stack);
    expect(states.filter((s) => s.status !== 'synced')).toEqual([]);
    expect(states.filter((s) => s.sent_note).map((s) => s.sent_note)).toEqual([
      expect.stringContaining(`sent without its profile claim ${BP_PROFILE}`),
    ]);
    const [panel] = await bpPanels(stack);
    expect(panel?.meta?.profile ?? []).not.toContain(BP_PROFILE);
    expect(panel?.component?.map((c) => [c.code.coding?.[0]?.code, c.valueQuantity?.value])).toEqual([
      ['8480-6', 132],
      ['8462-4', 84],
    ]);
    const heartRate = ((await ehrAll(stack.sandbox.url, 'Observation')) as Observation[]).find((o) =>
      o.code.coding?.some((c) => c.code === '8867-4'),
    );
    expect(heartRate?.meta?.profile).toContain(HEART_RATE_PROFILE);

    // Learned: the next patient's blood pressure goes without a refused first attempt.
    const refusedBefore = stack.sandbox.sandbox.stats().requests.byStatus['400'] ?? 0;
    await request(stack.app).post('/v1/screenings').send(screeningRequest()).expect(201);
    await settled(stack);
    expect(stack.sandbox.sandbox.stats().requests.byStatus['400'] ?? 0).toBe(refusedBefore);
    expect(await bpPanels(stack)).toHaveLength(2);
    const view = (await syncStates(stack)).filter((s) => s.sent_note);
    expect(view).toHaveLength(2);
    expect(view[1]?.sent_note).toMatch(/the EHR refused it before/);
  });

  it('with EHR_UNCLAIMED_PROFILES never sends the claim, and the course view shows the note', async () => {
    stack = await startStack({ EHR_UNCLAIMED_PROFILES: BP_PROFILE });
    stack.startWorker();
    const screening = await request(stack.app).post('/v1/screenings').send(screeningRequest()).expect(201);
    await settled(stack);
    expect(stack.sandbox.sandbox.stats().requests.byStatus['400'] ?? 0).toBe(0);
    const course = await request(stack.app).post('/v1/courses').send({ screeningId: screening.body.screeningId }).expect(201);
    const view = await request(stack.app).get(`/v1/courses/${course.body.courseId}`).expect(200);
    const noted = (view.body.sync as Array<{ sentNote?: string }>).filter((s) => s.sentNote);
    expect(noted.map((s) => s.sentNote)).toEqual([expect.stringMatching(/listed in EHR_UNCLAIMED_PROFILES/)]);
  });
});
