import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createKapClient, KapApiError, type KapClient } from '@kap/client';
import { screeningRequest } from '@kap/testkit/requests';
import { startStack, type Stack } from '@kap/testkit/stack';
import { startTestIssuer, type TestIssuer } from '@kap/testkit/tokens';

jest.setTimeout(120_000);

/**
 * The typed client against the real stack over real HTTP, as a hospital developer calls it:
 * a token from an async provider, an Idempotency-Key per POST, errors as OperationOutcomes.
 */
describe('@kap/client against the running service', () => {
  let issuer: TestIssuer;
  let stack: Stack;
  let server: Server;
  let baseUrl: string;
  let tokensAsked = 0;
  let kap: KapClient;

  beforeAll(async () => {
    issuer = await startTestIssuer();
    stack = await startStack(issuer.env());
    server = createServer(stack.app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    kap = createKapClient({
      baseUrl,
      token: async () => {
        tokensAsked += 1;
        // A fresh token every time, as a provider that refreshes would hand out.
        return issuer.mint({ clientId: 'sdk-test-app', scope: 'kap/v1.read kap/v1.write kap/admin system/*.rs' });
      },
    });
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await stack?.close();
    await issuer?.close();
  });

  it('walks screening, course and a dosing session, and reads the course back', async () => {
    const screening = await kap.createScreening({ body: screeningRequest() });
    expect(screening.outcome).toBe('eligible');
    const course = await kap.createCourse({ body: { screeningId: screening.screeningId } });
    const start = new Date(Date.now() - 90 * 60_000);
    const session = await kap.createDosingSession({
      path: { id: course.courseId },
      body: {
        sessionNumber: 1,
        doseLevel: 'low',
        route: 'sublingual',
        dose: { value: 100, unit: 'mg' },
        start: start.toISOString(),
        end: new Date(start.getTime() + 80 * 60_000).toISOString(),
        vitals: [{ at: start.toISOString(), systolic: 130, diastolic: 84, heartRate: 76 }],
      },
    });
    expect(session.followUps).toHaveLength(3);
    const view = await kap.getCourse({ path: { id: course.courseId } });
    expect(view.sessions).toHaveLength(1);
    expect(view.followUps.map((f) => f.id).sort()).toEqual(session.followUps.map((f) => f.id).sort());
    expect(tokensAsked).toBeGreaterThanOrEqual(4);
  });

  it('retries a POST with the key it was sent with, under a refreshed token, and the service runs it once', async () => {
    const body = screeningRequest();
    const first = await kap.createScreening({ body }, { idempotencyKey: 'sdk-retry-1' });
    const again = await kap.createScreening({ body }, { idempotencyKey: 'sdk-retry-1' });
    expect(again.screeningId).toBe(first.screeningId);
    // Without a key of the caller's, each POST gets its own: two screenings.
    const other = await kap.createScreening({ body: screeningRequest() });
    expect(other.screeningId).not.toBe(first.screeningId);
  });

  it('surfaces an error as the OperationOutcome naming the field, with the key the POST used', async () => {
    const bad = { ...screeningRequest(), vitals: { systolic: 'high', diastolic: 82, heartRate: 74 } };
    const err = await kap.createScreening({ body: bad as never }, { idempotencyKey: 'sdk-bad-1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KapApiError);
    const apiError = err as KapApiError;
    expect(apiError.status).toBe(400);
    expect(apiError.idempotencyKey).toBe('sdk-bad-1');
    expect(apiError.outcome?.issue.some((i) => i.expression?.includes('vitals.systolic'))).toBe(true);
    const missing = await kap.getCourse({ path: { id: 'no-such-course' } }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ status: 404, path: '/v1/courses/no-such-course' });
  });

  it('is refused with 401 without a valid token', async () => {
    const anonymous = createKapClient({ baseUrl, token: 'not-a-jwt' });
    const err = await anonymous.getCourse({ path: { id: 'x' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KapApiError);
    expect((err as KapApiError).status).toBe(401);
    expect((err as KapApiError).outcome?.resourceType).toBe('OperationOutcome');
  });
});
