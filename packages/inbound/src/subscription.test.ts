import type { CapabilityStatement } from '@medplum/fhirtypes';
import { CLASSIC_CRITERIA, SUBSCRIPTION_SECRET_EXTENSION, chooseSubscriptionStyle, classicSubscription } from './subscription';

const statement = (rest: Partial<CapabilityStatement> & { resources?: Array<Record<string, unknown>> }): CapabilityStatement => {
  const { resources, ...top } = rest;
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-01-01',
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['json'],
    ...top,
    rest: [{ mode: 'server', resource: (resources ?? []) as never }],
  };
};
const subscriptionResource = (extra: Record<string, unknown> = {}) => ({
  type: 'Subscription',
  interaction: [{ code: 'create' }, { code: 'search-type' }],
  ...extra,
});

describe('chooseSubscriptionStyle', () => {
  it('takes classic for a server that lists Subscription without the backport (Medplum 5)', () => {
    const medplum = statement({
      instantiates: ['http://hl7.org/fhir/us/core/CapabilityStatement/us-core-server'],
      resources: [{ type: 'Patient' }, subscriptionResource()],
    });
    expect(chooseSubscriptionStyle('auto', medplum).style).toBe('classic');
  });

  it('takes the backport where the server declares it, whichever way it does', () => {
    const ways: CapabilityStatement[] = [
      statement({
        instantiates: ['http://hl7.org/fhir/uv/subscriptions-backport/CapabilityStatement/backport-subscription-server-r4'],
        resources: [subscriptionResource()],
      }),
      statement({
        resources: [
          subscriptionResource({
            supportedProfile: ['http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription'],
          }),
        ],
      }),
      statement({ resources: [subscriptionResource(), { type: 'SubscriptionTopic' }] }),
      statement({
        resources: [subscriptionResource({ operation: [{ name: '$status', definition: 'http://example.org/OperationDefinition/x' }] })],
      }),
      statement({
        resources: [
          subscriptionResource({
            operation: [
              { name: 'x', definition: 'http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-events' },
            ],
          }),
        ],
      }),
    ];
    for (const capability of ways) expect(chooseSubscriptionStyle('auto', capability)).toMatchObject({ style: 'backport' });
  });

  it('lets the setting win over the CapabilityStatement, and says why', () => {
    const backportServer = statement({ resources: [subscriptionResource(), { type: 'SubscriptionTopic' }] });
    expect(chooseSubscriptionStyle('classic', backportServer)).toEqual({ style: 'classic', reason: 'EHR_SUBSCRIPTION_STYLE=classic' });
    expect(chooseSubscriptionStyle('backport', statement({ resources: [subscriptionResource()] })).style).toBe('backport');
  });

  it('falls back to classic, saying so, when the statement lists no Subscription', () => {
    const out = chooseSubscriptionStyle('auto', statement({ resources: [{ type: 'Patient' }] }));
    expect(out.style).toBe('classic');
    expect(out.reason).toMatch(/lists no Subscription/);
  });
});

describe('classicSubscription', () => {
  it('is an active rest-hook with a search criteria that posts the resource, with the Authorization header', () => {
    const s = classicSubscription('Patient', {
      endpoint: 'https://kap.example.org/v1/ehr-notifications',
      header: 'Authorization: Bearer t',
    });
    expect(s).toMatchObject({
      status: 'active',
      criteria: CLASSIC_CRITERIA.Patient,
      channel: {
        type: 'rest-hook',
        endpoint: 'https://kap.example.org/v1/ehr-notifications',
        payload: 'application/fhir+json',
        header: ['Authorization: Bearer t'],
      },
    });
    expect(s.extension).toBeUndefined();
    expect(classicSubscription('Encounter', { endpoint: 'x' }).criteria).toBe('Encounter?status=finished');
  });

  it('carries the signing secret only when one is configured', () => {
    const s = classicSubscription('Encounter', { endpoint: 'x', secret: 'shh' });
    expect(s.extension).toEqual([{ url: SUBSCRIPTION_SECRET_EXTENSION, valueString: 'shh' }]);
  });
});
