import { bundleLockKeys, requestLockKeys } from './fhir/lock-keys';
import { classifyRequest } from './fhir/interactions';

describe('classifyRequest', () => {
  test.each([
    ['GET', 'Patient?identifier=a|b', { resourceType: 'Patient', interaction: 'search-type' }],
    ['POST', '/Patient/_search', { resourceType: 'Patient', interaction: 'search-type' }],
    ['POST', 'Observation', { resourceType: 'Observation', interaction: 'create' }],
    ['GET', 'Patient/1', { resourceType: 'Patient', id: '1', interaction: 'read' }],
    ['GET', 'Patient/1/_history', { resourceType: 'Patient', id: '1', interaction: 'history-instance' }],
    ['GET', 'Patient/1/_history/v2', { resourceType: 'Patient', id: '1', interaction: 'vread' }],
    ['GET', 'Patient/_history', { resourceType: 'Patient', interaction: 'history-type' }],
    ['PUT', 'Patient/1', { resourceType: 'Patient', id: '1', interaction: 'update' }],
    ['PUT', 'Patient?identifier=a|b', { resourceType: 'Patient', interaction: 'update', conditional: 'identifier=a|b' }],
    ['PATCH', 'Patient/1', { resourceType: 'Patient', id: '1', interaction: 'patch' }],
    ['DELETE', 'Patient?identifier=a|b', { resourceType: 'Patient', interaction: 'delete', conditional: 'identifier=a|b' }],
    ['GET', 'Patient/1/$everything', { resourceType: 'Patient', interaction: 'operation' }],
  ])('%s %s', (method, url, expected) => {
    expect(classifyRequest(method, url)).toEqual(expected);
  });

  test('system-level requests name no type', () => {
    expect(classifyRequest('POST', '/')).toBeUndefined();
    expect(classifyRequest('GET', 'metadata')).toBeUndefined();
    expect(classifyRequest('POST', '$graphql')).toBeUndefined();
  });
});

describe('lock keys', () => {
  test('conditional criteria with their parameters sorted, instance writes by id, nothing for reads or plain creates', () => {
    expect(requestLockKeys('POST', 'Patient', 'identifier=a|b&_tag=x')).toEqual(['Patient?_tag=x&identifier=a%7Cb']);
    expect(requestLockKeys('PUT', 'Patient?_tag=x&identifier=a|b', undefined)).toEqual(['Patient?_tag=x&identifier=a%7Cb']);
    expect(requestLockKeys('PUT', 'Patient/1', undefined)).toEqual(['Patient/1']);
    expect(requestLockKeys('DELETE', 'Patient/1', undefined)).toEqual(['Patient/1']);
    expect(requestLockKeys('POST', 'Patient', undefined)).toEqual([]);
    expect(requestLockKeys('GET', 'Patient?identifier=a|b', undefined)).toEqual([]);
  });

  test('a Bundle holds every entry key', () => {
    expect(
      bundleLockKeys({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=s|1' } },
          { request: { method: 'POST', url: 'Observation' } },
          { request: { method: 'PUT', url: 'CarePlan/9' } },
        ],
      }),
    ).toEqual(['Patient?identifier=s%7C1', 'CarePlan/9']);
  });
});
