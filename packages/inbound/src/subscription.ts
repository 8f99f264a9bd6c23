import type { Subscription } from '@medplum/fhirtypes';

/**
 * The Subscriptions the adapter asks the EHR for, in the R4 backport shape
 * (https://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition-backport-subscription.html):
 * `criteria` is the topic's canonical URL, narrowed by `backport-filter-criteria`; the
 * channel is a rest-hook to `POST /v1/ehr-notifications` with heartbeats and the payload
 * content (`id-only` or `full-resource`) as extensions.
 */

const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';

export interface SubscriptionRequest {
  /** `Patient` or `Encounter`. */
  readonly resourceType: 'Patient' | 'Encounter';
  /** The EHR's SubscriptionTopic canonical URL for changes of that resource. */
  readonly topic: string;
  /** R5 filter criteria, e.g. `Encounter?status=finished`. */
  readonly filter?: string;
}

export interface SubscriptionSettings {
  /** Where the EHR posts: this service's `/v1/ehr-notifications`. */
  readonly endpoint: string;
  readonly content: 'id-only' | 'full-resource';
  /** A header the EHR sends with each notification, e.g. `Authorization: Bearer …`. */
  readonly header?: string;
  readonly heartbeatSeconds: number;
}

export function backportSubscription(request: SubscriptionRequest, settings: SubscriptionSettings): Subscription {
  return {
    resourceType: 'Subscription',
    meta: { profile: [`${BACKPORT}/backport-subscription`] },
    status: 'requested',
    reason: `KAP adapter: ${request.resourceType} changes (deaths, discharges) stop KAP courses`,
    criteria: request.topic,
    ...(request.filter ? { _criteria: { extension: [{ url: `${BACKPORT}/backport-filter-criteria`, valueString: request.filter }] } } : {}),
    channel: {
      extension: [
        { url: `${BACKPORT}/backport-heartbeat-period`, valueUnsignedInt: settings.heartbeatSeconds },
        { url: `${BACKPORT}/backport-timeout`, valueUnsignedInt: 30 },
      ],
      type: 'rest-hook',
      endpoint: settings.endpoint,
      payload: 'application/fhir+json',
      _payload: { extension: [{ url: `${BACKPORT}/backport-payload-content`, valueCode: settings.content }] },
      ...(settings.header ? { header: [settings.header] } : {}),
    },
  } as Subscription;
}
