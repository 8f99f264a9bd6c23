import { buildOpenApiDocument } from './openapi';

type Operation = { operationId?: string; responses?: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }> };

const operations = (): Array<{ where: string; op: Operation }> =>
  Object.entries(buildOpenApiDocument().paths ?? {}).flatMap(([path, item]) =>
    (['get', 'post', 'put', 'patch', 'delete'] as const)
      .filter((m) => (item as Record<string, unknown>)?.[m])
      .map((m) => ({ where: `${m.toUpperCase()} ${path}`, op: (item as Record<string, Operation>)[m] as Operation })),
  );

describe('the OpenAPI document', () => {
  it('names every operation with a unique, stable operationId: the client SDK calls them by it', () => {
    const ids = operations().map(({ where, op }) => [where, op.operationId] as const);
    expect(ids.filter(([, id]) => !id || !/^[a-z][A-Za-z0-9]*$/.test(id))).toEqual([]);
    const seen = ids.map(([, id]) => id);
    expect(new Set(seen).size).toBe(seen.length);
    // Renaming one breaks every caller's code: these are the contract.
    expect(Object.fromEntries(ids.map(([where, id]) => [id, where]))).toMatchObject({
      createScreening: 'POST /v1/screenings',
      reviewScreening: 'POST /v1/screenings/{id}/review',
      createCourse: 'POST /v1/courses',
      getCourse: 'GET /v1/courses/{id}',
      createDosingSession: 'POST /v1/courses/{id}/dosing-sessions',
      completeFollowUp: 'POST /v1/follow-ups/{id}/complete',
      recordGoalsOfCare: 'POST /v1/courses/{id}/goals-of-care',
      stopCourse: 'POST /v1/courses/{id}/stop',
      recordMeasure: 'POST /v1/courses/{id}/measures',
      getCourseOutcomes: 'GET /v1/courses/{id}/outcomes',
    });
  });

  it('documents the OperationOutcome errors of every operation', () => {
    const missing = operations()
      .filter(({ op }) => {
        const errors = Object.entries(op.responses ?? {}).filter(([status]) => /^4\d\d$/.test(status));
        return (
          errors.length === 0 ||
          errors.some(([, r]) => !Object.values(r.content ?? {}).every((c) => c.schema?.$ref === '#/components/schemas/OperationOutcome'))
        );
      })
      .map(({ where }) => where);
    expect(missing).toEqual([]);
  });

  it('gives every authenticated operation its 401, 403 and 429, and every POST its body and key errors', () => {
    const publicOps = new Set(['GET /health', 'GET /ready', 'GET /fhir/R4/metadata', 'GET /courses/{id}']);
    for (const { where, op } of operations()) {
      const statuses = Object.keys(op.responses ?? {});
      if (!publicOps.has(where)) expect({ where, statuses }).toEqual({ where, statuses: expect.arrayContaining(['401', '403', '429']) });
      if (where.startsWith('POST '))
        expect({ where, statuses }).toEqual({ where, statuses: expect.arrayContaining(['400', '409', '413', '415', '503']) });
    }
  });
});
