import { createKapClient, KapApiError } from './index';

/**
 * The methods' types follow the document: these calls compile, and the commented-out
 * ones must not (each `@ts-expect-error` fails the type check if its call compiles).
 * Checked by `tsc -p tsconfig.test.json`; the test itself only builds the calls' shape.
 */
describe('the typed methods', () => {
  it('take what each operation takes', () => {
    const kap = createKapClient({ baseUrl: 'http://127.0.0.1:9', fetch: async () => new Response('{}', { status: 200 }) });
    const calls = [
      () => kap.getHealth(),
      () => kap.getCourse({ path: { id: 'c1' } }),
      () => kap.startReconciliation(),
      () => kap.startReconciliation({ body: { patient: { system: 'urn:oid:1.2.3', value: 'SYN-1' } } }),
      () => kap.searchFhirResources({ path: { type: 'Observation' }, query: { patient: 'Patient/p1' } }),
      () => kap.stopCourse({ path: { id: 'c1' }, body: { reason: 'completed' } }, { idempotencyKey: 'k1' }),
      // @ts-expect-error a course needs its id
      () => kap.getCourse(),
      // @ts-expect-error not a stop reason
      () => kap.stopCourse({ path: { id: 'c1' }, body: { reason: 'bored' } }),
      // @ts-expect-error a screening needs its body
      () => kap.createScreening({}),
    ];
    expect(calls).toHaveLength(9);
  });

  it('sends a bearer token from a provider and a new Idempotency-Key with every POST', async () => {
    const seen: Headers[] = [];
    const kap = createKapClient({
      baseUrl: 'http://127.0.0.1:9/',
      token: async () => 'tok-1',
      fetch: async (input) => {
        seen.push((input as Request).headers);
        return new Response(JSON.stringify({ redriven: {} }), { status: 200, headers: { 'Content-Type': 'application/json' } });
      },
    });
    await kap.redriveDeadLetter({ path: { id: '7' } });
    await kap.redriveDeadLetter({ path: { id: '7' } });
    await kap.redriveDeadLetter({ path: { id: '7' } }, { idempotencyKey: 'mine' });
    await kap.getSyncStatus();
    expect(seen.map((h) => h.get('Authorization'))).toEqual(['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-1', 'Bearer tok-1']);
    const keys = seen.map((h) => h.get('Idempotency-Key'));
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).not.toBe(keys[0]);
    expect(keys.slice(2)).toEqual(['mine', null]);
  });

  it('reads the course page as text, and an OperationOutcome error as the outcome', async () => {
    const kap = createKapClient({
      baseUrl: 'http://127.0.0.1:9',
      fetch: async (input) =>
        new URL((input as Request).url).pathname.startsWith('/courses/')
          ? new Response('<!doctype html><title>Course</title>', { status: 200, headers: { 'Content-Type': 'text/html' } })
          : new Response(
              JSON.stringify({
                resourceType: 'OperationOutcome',
                issue: [{ severity: 'error', code: 'not-found', diagnostics: 'Course c9 not found' }],
              }),
              {
                status: 404,
                headers: { 'Content-Type': 'application/fhir+json' },
              },
            ),
    });
    await expect(kap.getCoursePage({ path: { id: 'c1' } })).resolves.toMatch(/^<!doctype html>/);
    const err = await kap.getCourse({ path: { id: 'c9' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KapApiError);
    expect(err).toMatchObject({ status: 404, path: '/v1/courses/c9', message: 'GET /v1/courses/c9 answered 404: Course c9 not found' });
    expect((err as KapApiError).outcome?.issue[0]?.code).toBe('not-found');
  });
});
