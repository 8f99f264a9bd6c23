import request from 'supertest';
import { startApiHarness, type ApiHarness } from '../../../test/support/api-harness';
import { screeningRequest } from '../../../test/support/requests';
import { startTestIssuer, type TestIssuer } from '../../../test/support/tokens';

describe('JWT bearer authentication (AUTH_MODE=jwt)', () => {
  let issuer: TestIssuer;
  let h: ApiHarness;
  beforeAll(async () => {
    issuer = await startTestIssuer();
    h = await startApiHarness({ env: issuer.env() });
  });
  afterAll(async () => {
    await h.close();
    await issuer.close();
  });

  const screenings = async (): Promise<number> =>
    (await h.db.query<{ n: number }>('SELECT count(*)::int AS n FROM screenings'))[0]?.n ?? -1;

  it('accepts a token signed by the issuer, for its audience, within its lifetime', async () => {
    const token = await issuer.mint({ scope: 'kap/v1.write kap/v1.read', sub: 'clinician-1' });
    await request(h.app).post('/v1/screenings').set('Authorization', `Bearer ${token}`).send(screeningRequest()).expect(201);
  });

  it('answers 401 with an OperationOutcome for a missing, expired, early, foreign or mis-addressed token, and changes nothing', async () => {
    const before = await screenings();
    const tokens = {
      missing: undefined,
      expired: await issuer.mint({ expiresIn: -120 }),
      early: await issuer.mint({ notBefore: 120 }),
      otherIssuer: await issuer.mint({ issuer: 'https://attacker.example/issuer' }),
      otherAudience: await issuer.mint({ audience: 'https://another-api.example' }),
    };
    for (const [name, token] of Object.entries(tokens)) {
      const call = request(h.app).post('/v1/screenings').send(screeningRequest());
      const res = await (token ? call.set('Authorization', `Bearer ${token}`) : call);
      expect({ name, status: res.status }).toEqual({ name, status: 401 });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="kap-adapter"/);
      expect(res.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [expect.objectContaining({ code: 'login' })] });
    }
    expect(await screenings()).toBe(before);
  });

  it('picks up a rotated signing key without a restart', async () => {
    await issuer.rotate({ retireOld: true });
    const token = await issuer.mint({ scope: 'kap/v1.write' });
    await request(h.app).post('/v1/screenings').set('Authorization', `Bearer ${token}`).send(screeningRequest()).expect(201);
  });

  it('leaves the public paths open', async () => {
    for (const path of ['/health', '/ready', '/openapi.json', '/fhir/R4/metadata']) await request(h.app).get(path).expect(200);
  });
});
