import { v5 as uuidv5 } from 'uuid';
import { KAP_CANONICAL, RESOURCE_IDENTIFIER_SYSTEM, resourceId, resourceIdentifier } from './resource-ids';

/** uuid5(uuid5(NAMESPACE_URL, 'https://kap-adapter.org/fhir'), key), computed with Python's uuid module. */
const PINNED_BLOOD_PRESSURE_ID = '026d38e7-39bb-57b1-bb64-5734142970a4';

describe('deterministic identity', () => {
  it('gives the same UUID v5 for the same business key', () => {
    const key = 'screening/s1/observation/blood-pressure';
    // Pinned: computed once by hand from the namespace and the key, never from the code under test.
    expect(resourceId(key)).toBe(PINNED_BLOOD_PRESSURE_ID);
    expect(resourceId(key)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('gives different ids for different keys', () => {
    expect(resourceId('screening/s1/consent')).not.toBe(resourceId('screening/s2/consent'));
  });

  it('pins the namespace so ids stay stable across releases', () => {
    expect(resourceId('patient/x|1')).toBe('21dcb142-de03-572c-8530-5088e5ebe8f9');
  });

  it('encodes a key as UTF-8, as uuid does with a string key', () => {
    const namespace = uuidv5(KAP_CANONICAL, uuidv5.URL);
    for (const key of ['patient/Zoë Ångström|1', 'screening/日本/observation/x', 'course/🙂'])
      expect(resourceId(key)).toBe(uuidv5(key, namespace));
  });

  it('builds the business identifier from the id', () => {
    expect(resourceIdentifier('k')).toEqual({ system: `${KAP_CANONICAL}/sid/resource`, value: resourceId('k') });
    expect(RESOURCE_IDENTIFIER_SYSTEM).toBe('https://kap-adapter.org/fhir/sid/resource');
  });

  it('refuses an empty key', () => {
    expect(() => resourceId('')).toThrow();
  });
});
