import { describeNeed, grants, scopeNeeded, type ScopeNeed } from './scopes';

const need = (method: string, path: string): ScopeNeed => scopeNeeded(method, path);
const allowed = (scope: string, method: string, path: string): boolean =>
  grants(new Set(scope.split(' ').filter(Boolean)), need(method, path));

describe('the route table', () => {
  it('gives each route the scope docs/api.md#authentication-and-tenants names', () => {
    expect(need('POST', '/v1/screenings')).toEqual({ kind: 'kap', scope: 'kap/v1.write' });
    expect(need('POST', '/v1/courses/c1/dosing-sessions')).toEqual({ kind: 'kap', scope: 'kap/v1.write' });
    expect(need('POST', '/v1/ehr-notifications')).toEqual({ kind: 'kap', scope: 'kap/v1.write' });
    // Safety alerts: reading them is clinical reading, acknowledging or resolving one is a clinical write.
    expect(need('GET', '/v1/alerts')).toEqual({ kind: 'kap', scope: 'kap/v1.read' });
    expect(need('POST', '/v1/alerts/a1/acknowledge')).toEqual({ kind: 'kap', scope: 'kap/v1.write' });
    expect(need('POST', '/v1/alerts/a1/resolve')).toEqual({ kind: 'kap', scope: 'kap/v1.write' });
    expect(need('GET', '/v1/courses/c1')).toEqual({ kind: 'kap', scope: 'kap/v1.read' });
    expect(need('HEAD', '/v1/courses/c1/outcomes')).toEqual({ kind: 'kap', scope: 'kap/v1.read' });
    for (const [method, path] of [
      ['GET', '/v1/admin/sync-status'],
      ['POST', '/v1/admin/reconcile'],
      ['GET', '/v1/admin/reconcile/r1'],
      ['GET', '/admin/queues'],
      ['GET', '/admin/queues/api/queues'],
      ['GET', '/metrics'],
    ] as const) {
      expect({ method, path, need: need(method, path) }).toEqual({ method, path, need: { kind: 'kap', scope: 'kap/admin' } });
    }
  });

  it('asks SMART permissions on the FHIR face: read r, search s, create c', () => {
    expect(need('GET', '/fhir/R4/Observation/o1')).toEqual({ kind: 'smart', resourceType: 'Observation', permission: 'r' });
    expect(need('GET', '/fhir/R4/Observation/o1/_history/2')).toEqual({ kind: 'smart', resourceType: 'Observation', permission: 'r' });
    expect(need('GET', '/fhir/R4/Observation')).toEqual({ kind: 'smart', resourceType: 'Observation', permission: 's' });
    expect(need('POST', '/fhir/R4/QuestionnaireResponse')).toEqual({
      kind: 'smart',
      resourceType: 'QuestionnaireResponse',
      permission: 'c',
    });
    expect(need('DELETE', '/fhir/R4/Patient/p1')).toEqual({ kind: 'smart', resourceType: 'Patient', permission: 'd' });
  });

  it('leaves the public paths open and closes anything it does not name to all but kap/admin', () => {
    for (const path of [
      '/health',
      '/ready',
      '/openapi.json',
      '/docs/',
      '/fhir/R4/metadata',
      '/.well-known/smart-configuration',
      '/courses/c1',
      '/assets/course-page.js',
    ]) {
      expect({ path, need: need('GET', path) }).toEqual({ path, need: { kind: 'public' } });
    }
    expect(need('GET', '/internal/anything')).toEqual({ kind: 'kap', scope: 'kap/admin' });
    expect(need('GET', '/fhir/R4')).toEqual({ kind: 'kap', scope: 'kap/admin' });
  });
});

describe('granted scopes', () => {
  it('holds the adapter scopes apart: read is not write, neither is admin', () => {
    expect(allowed('kap/v1.read', 'GET', '/v1/courses/c1')).toBe(true);
    expect(allowed('kap/v1.read', 'POST', '/v1/screenings')).toBe(false);
    expect(allowed('kap/v1.write', 'GET', '/v1/courses/c1')).toBe(false);
    expect(allowed('kap/v1.read kap/v1.write', 'GET', '/v1/admin/sync-status')).toBe(false);
    expect(allowed('kap/admin', 'GET', '/v1/admin/sync-status')).toBe(true);
    expect(allowed('kap/admin', 'POST', '/v1/screenings')).toBe(false);
    // A look-alike is not the scope.
    expect(allowed('kap/v1.reader kap/v1', 'GET', '/v1/courses/c1')).toBe(false);
  });

  it("keeps the deployment's operator apart from a tenant's admin: what no tenant owns needs kap/operator", () => {
    expect(need('GET', '/v1/operator/unrouted-messages')).toEqual({ kind: 'kap', scope: 'kap/operator' });
    expect(allowed('kap/admin kap/v1.read kap/v1.write', 'GET', '/v1/operator/unrouted-messages')).toBe(false);
    expect(allowed('kap/operator', 'GET', '/v1/operator/unrouted-messages')).toBe(true);
    expect(allowed('kap/operator', 'GET', '/v1/admin/inbound-messages')).toBe(false);
  });

  it('reads SMART v2 scopes: type or *, system or user, each letter its own permission', () => {
    expect(allowed('system/Observation.rs', 'GET', '/fhir/R4/Observation/o1')).toBe(true);
    expect(allowed('system/Observation.rs', 'GET', '/fhir/R4/Observation')).toBe(true);
    expect(allowed('system/Observation.r', 'GET', '/fhir/R4/Observation')).toBe(false);
    expect(allowed('system/Observation.s', 'GET', '/fhir/R4/Observation/o1')).toBe(false);
    expect(allowed('system/Observation.rs', 'GET', '/fhir/R4/Condition/c1')).toBe(false);
    expect(allowed('system/*.rs', 'GET', '/fhir/R4/Condition/c1')).toBe(true);
    expect(allowed('user/*.rs', 'GET', '/fhir/R4/CarePlan')).toBe(true);
    expect(allowed('system/*.rs', 'POST', '/fhir/R4/QuestionnaireResponse')).toBe(false);
    expect(allowed('system/QuestionnaireResponse.c', 'POST', '/fhir/R4/QuestionnaireResponse')).toBe(true);
    expect(allowed('system/*.cruds', 'POST', '/fhir/R4/QuestionnaireResponse')).toBe(true);
    expect(allowed('system/*.c', 'POST', '/fhir/R4/QuestionnaireResponse')).toBe(true);
  });

  it('takes SMART v1 .read, .write and .* as .rs, .cud and .cruds', () => {
    expect(allowed('system/*.read', 'GET', '/fhir/R4/Observation')).toBe(true);
    expect(allowed('system/*.read', 'POST', '/fhir/R4/QuestionnaireResponse')).toBe(false);
    expect(allowed('system/*.write', 'POST', '/fhir/R4/QuestionnaireResponse')).toBe(true);
    expect(allowed('system/*.write', 'GET', '/fhir/R4/Observation/o1')).toBe(false);
    expect(allowed('user/Observation.*', 'GET', '/fhir/R4/Observation/o1')).toBe(true);
  });

  it('honours no scope it cannot enforce: patient/ (no launch context), parameters, letters out of order', () => {
    expect(allowed('patient/*.rs', 'GET', '/fhir/R4/Observation/o1')).toBe(false);
    expect(allowed('system/Observation.rs?category=vital-signs', 'GET', '/fhir/R4/Observation')).toBe(false);
    expect(allowed('system/*.sr', 'GET', '/fhir/R4/Observation')).toBe(false);
    expect(allowed('system/*.', 'GET', '/fhir/R4/Observation')).toBe(false);
    expect(allowed('kap/v1.read', 'GET', '/fhir/R4/Observation')).toBe(false);
    // FHIR scopes do not reach the adapter's own routes.
    expect(allowed('system/*.cruds', 'POST', '/v1/screenings')).toBe(false);
  });

  it('lets `*` (authentication off) through everywhere', () => {
    for (const [method, path] of [
      ['POST', '/v1/screenings'],
      ['GET', '/metrics'],
      ['POST', '/fhir/R4/QuestionnaireResponse'],
    ] as const) {
      expect(grants(new Set(['*']), need(method, path))).toBe(true);
    }
  });

  it('names the scope to ask for', () => {
    expect(describeNeed(need('POST', '/v1/screenings'))).toBe('kap/v1.write');
    expect(describeNeed(need('GET', '/fhir/R4/Observation'))).toMatch(/^system\/Observation\.s \(or system\/\*\.s/);
  });
});
