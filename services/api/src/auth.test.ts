import request from 'supertest';
import { startApiHarness, type ApiHarness } from '../../../test/support/api-harness';
import { screeningRequest } from '../../../test/support/requests';

describe('bearer-token authentication', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApiHarness({ env: { API_TOKENS: 'clinic-token-1,clinic-token-2', API_ADMIN_TOKENS: 'ops-token' } });
  });
  afterAll(async () => {
    await h.close();
  });

  it('answers 401 with an OperationOutcome without a valid token, and changes nothing', async () => {
    const none = await request(h.app).post('/v1/screenings').send(screeningRequest()).expect(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(none.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [expect.objectContaining({ code: 'login' })] });
    await request(h.app).get('/fhir/R4/Patient').set('Authorization', 'Bearer wrong').expect(401);
    await request(h.app).get('/fhir/R4/Patient').set('Authorization', 'Basic Y2xpbmljOnRva2Vu').expect(401);
    const [row] = await h.db.query<{ n: number }>('SELECT count(*)::int AS n FROM screenings');
    expect(row?.n).toBe(0);
  });

  it('accepts each configured token', async () => {
    await request(h.app).post('/v1/screenings').set('Authorization', 'Bearer clinic-token-2').send(screeningRequest()).expect(201);
    await request(h.app).get('/fhir/R4/Patient?_id=none').set('Authorization', 'bearer clinic-token-1').expect(200);
  });

  it('keeps the admin routes to admin tokens (403 otherwise)', async () => {
    await request(h.app).get('/v1/admin/dead-letters').set('Authorization', 'Bearer clinic-token-1').expect(403);
    await request(h.app).get('/v1/admin/dead-letters').set('Authorization', 'Bearer ops-token').expect(200);
    await request(h.app).get('/fhir/R4/Patient?_id=none').set('Authorization', 'Bearer ops-token').expect(200);
  });

  it('leaves health, readiness, metrics, the OpenAPI document and the CapabilityStatement open', async () => {
    for (const path of ['/health', '/ready', '/metrics', '/openapi.json', '/fhir/R4/metadata']) await request(h.app).get(path).expect(200);
  });
});
