import { hl7RoutingProblems, routeHl7Message, type Hl7Tenant } from './tenant-route';

const tenant = (id: string, ...facilities: string[]): Hl7Tenant => ({
  id,
  settings: { assigningAuthorities: new Map(), dischargeStopCodes: new Set() },
  sendingFacilities: new Set(facilities),
});

describe('routeHl7Message', () => {
  const north = tenant('north', 'NORTHHOSP');
  const south = tenant('south', 'SOUTHHOSP', 'SOUTHCLINIC^2.16.840.1.113883.19.5^ISO');

  it('gives every message to the one tenant of a single-tenant deployment, whatever MSH-4 says', () => {
    expect(routeHl7Message('ANYWHERE', [north])).toEqual({ tenant: north });
    expect(routeHl7Message(undefined, [north])).toEqual({ tenant: north });
  });

  it('picks the tenant listing the sending facility, by HD.1 or the whole field', () => {
    expect(routeHl7Message('NORTHHOSP', [north, south])).toEqual({ tenant: north });
    expect(routeHl7Message('SOUTHHOSP^1.2.3^ISO', [north, south])).toEqual({ tenant: south });
    expect(routeHl7Message('SOUTHCLINIC^2.16.840.1.113883.19.5^ISO', [north, south])).toEqual({ tenant: south });
  });

  it('refuses, naming MSH-4, a facility no tenant lists or a missing one, rather than guessing', () => {
    expect(routeHl7Message('WESTHOSP^9.9^ISO', [north, south])).toEqual({
      problem: { code: '103', text: expect.stringMatching(/sending facility WESTHOSP is not assigned/), segment: 'MSH', field: 4 },
    });
    expect(routeHl7Message('', [north, south])).toEqual({
      problem: expect.objectContaining({ code: '103', text: expect.stringMatching(/MSH-4 \(sending facility\) is missing/) }),
    });
  });
});

describe('hl7RoutingProblems', () => {
  it('names a facility two tenants claim', () => {
    expect(hl7RoutingProblems([tenant('a', 'X'), tenant('b', 'X', 'Y')])).toEqual([
      'tenant "b": sending facility X is already tenant "a"\'s',
    ]);
  });
  it('accepts distinct facilities, a tenant with none, and any single tenant', () => {
    expect(hl7RoutingProblems([tenant('a', 'X'), tenant('b', 'Y'), tenant('c')])).toEqual([]);
    expect(hl7RoutingProblems([tenant('a')])).toEqual([]);
  });
});
