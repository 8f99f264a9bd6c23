import request from 'supertest';
import { startApiHarness, type ApiHarness } from '@kap/testkit/api-harness';

describe('operations endpoints', () => {
  let h: ApiHarness;
  let redisUp = true;
  beforeAll(async () => {
    h = await startApiHarness({
      probes: [
        {
          name: 'redis',
          critical: true,
          check: async () => {
            if (!redisUp) throw new Error('connection refused');
          },
        },
        {
          name: 'ehr',
          critical: false,
          check: async () => {
            throw new Error('EHR unreachable');
          },
        },
      ],
    });
  });
  afterAll(async () => {
    await h.close();
  });

  it('answers liveness', async () => {
    await request(h.app).get('/health').expect(200, { status: 'ok' });
  });

  it('is ready with the database and Redis up, reporting the EHR without failing on it', async () => {
    const res = await request(h.app).get('/ready').expect(200);
    expect(res.body.checks).toMatchObject({ database: { status: 'up' }, redis: { status: 'up' }, ehr: { status: 'down' } });
  });

  it('is not ready when a critical dependency is down', async () => {
    redisUp = false;
    const res = await request(h.app).get('/ready').expect(503);
    expect(res.body.checks.redis).toMatchObject({ status: 'down', detail: 'connection refused' });
    redisUp = true;
  });

  it('serves the OpenAPI 3.1 document and its page', async () => {
    const doc = await request(h.app).get('/openapi.json').expect(200);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/v1/screenings', '/v1/courses', '/v1/courses/{id}', '/fhir/R4/metadata']),
    );
    expect(doc.body.components.schemas.ScreeningRequest.properties.contraindications).toBeDefined();
    const page = await request(h.app).get('/docs/').expect(200);
    expect(page.text).toMatch(/swagger-ui/i);
  });

  it('answers an unknown route with an OperationOutcome 404', async () => {
    const res = await request(h.app).get('/v2/nothing').expect(404);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });
});
