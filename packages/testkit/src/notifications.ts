import type { Bundle, Patient } from '@medplum/fhirtypes';

const SUBSCRIPTION = 'https://ehr.example.org/fhir/R4/Subscription/kap-patients';
const BACKPORT_STATUS = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4';
let eventNumber = 0;

/** An R4 backport notification Bundle: the SubscriptionStatus Parameters first, then the focus when full-resource. */
export function notification(type: string, focus?: { reference: string; resource?: Patient }): Bundle {
  const n = ++eventNumber;
  return {
    resourceType: 'Bundle',
    type: 'history',
    timestamp: new Date().toISOString(),
    entry: [
      {
        fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
        resource: {
          resourceType: 'Parameters',
          meta: { profile: [BACKPORT_STATUS] },
          parameter: [
            { name: 'subscription', valueReference: { reference: SUBSCRIPTION } },
            { name: 'topic', valueCanonical: 'http://example.org/SubscriptionTopic/patient-change' },
            { name: 'status', valueCode: 'active' },
            { name: 'type', valueCode: type },
            { name: 'events-since-subscription-start', valueString: String(n) },
            ...(focus
              ? [
                  {
                    name: 'notification-event',
                    part: [
                      { name: 'event-number', valueString: String(n) },
                      { name: 'timestamp', valueInstant: new Date().toISOString() },
                      { name: 'focus', valueReference: { reference: focus.reference } },
                    ],
                  },
                ]
              : []),
          ],
        },
        request: { method: 'GET', url: `${SUBSCRIPTION}/$status` },
        response: { status: '200' },
      },
      ...(focus?.resource
        ? [
            {
              fullUrl: focus.reference,
              resource: focus.resource,
              request: { method: 'PUT' as const, url: focus.reference },
              response: { status: '200' },
            },
          ]
        : []),
    ],
  };
}
