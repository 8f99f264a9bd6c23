import type { CapabilityStatement, Subscription } from '@medplum/fhirtypes';

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

/**
 * Classic R4 Subscriptions (http://hl7.org/fhir/R4/subscription.html), which most FHIR
 * servers run (Medplum, HAPI without the backport module): `criteria` is a search; on each
 * matching change the rest-hook POSTs the resource itself (`payload` set) or an empty body
 * (`payload` absent: a ping), with every `channel.header` on the request.
 */
export const CLASSIC_CRITERIA = {
  /** Only what stops a course: a death recorded on the Patient. */
  Patient: 'Patient?deceased=true',
  Encounter: 'Encounter?status=finished',
} as const;

/** Medplum's extension: with it the server signs each rest-hook body (`X-Signature`, HMAC-SHA256, hex). */
export const SUBSCRIPTION_SECRET_EXTENSION = 'https://www.medplum.com/fhir/StructureDefinition/subscription-secret';

export interface ClassicSubscriptionSettings {
  readonly endpoint: string;
  /** A header the EHR sends with each notification, e.g. `Authorization: Bearer …`. */
  readonly header?: string;
  /** Shared secret for signed bodies (servers that honour {@link SUBSCRIPTION_SECRET_EXTENSION}). */
  readonly secret?: string;
}

export function classicSubscription(resourceType: keyof typeof CLASSIC_CRITERIA, settings: ClassicSubscriptionSettings): Subscription {
  return {
    resourceType: 'Subscription',
    // R4 lets the client ask for `active`; Medplum fires only `active` ones and keeps what it is given.
    status: 'active',
    reason: `KAP adapter: ${resourceType} changes (deaths, discharges) stop KAP courses`,
    criteria: CLASSIC_CRITERIA[resourceType],
    ...(settings.secret ? { extension: [{ url: SUBSCRIPTION_SECRET_EXTENSION, valueString: settings.secret }] } : {}),
    channel: {
      type: 'rest-hook',
      endpoint: settings.endpoint,
      payload: 'application/fhir+json',
      ...(settings.header ? { header: [settings.header] } : {}),
    },
  };
}

export const SUBSCRIPTION_STYLE_SETTINGS = ['auto', 'classic', 'backport'] as const;
export type SubscriptionStyleSetting = (typeof SUBSCRIPTION_STYLE_SETTINGS)[number];
export type SubscriptionStyle = Exclude<SubscriptionStyleSetting, 'auto'>;

const BACKPORT_IG = 'http://hl7.org/fhir/uv/subscriptions-backport';

/**
 * Which Subscriptions to ask this EHR for. A setting other than `auto` wins. Otherwise the
 * CapabilityStatement decides: the R4 backport where the server says it implements it (it
 * instantiates a backport CapabilityStatement, claims the backport Subscription profile,
 * lists SubscriptionTopic, or offers the backport's `$status`/`$events` operations on
 * Subscription); classic where it lists Subscription without any of that.
 */
export function chooseSubscriptionStyle(
  setting: SubscriptionStyleSetting,
  capability: CapabilityStatement | undefined,
): { readonly style: SubscriptionStyle; readonly reason: string } {
  if (setting !== 'auto') return { style: setting, reason: `EHR_SUBSCRIPTION_STYLE=${setting}` };
  if (!capability) return { style: 'classic', reason: 'no CapabilityStatement; classic R4 Subscriptions are the common case' };
  const instantiates = [...(capability.instantiates ?? []), ...(capability.implementationGuide ?? [])];
  const resources = (capability.rest ?? []).flatMap((r) => r.resource ?? []);
  const subscription = resources.find((r) => r.type === 'Subscription');
  const backport =
    instantiates.some((u) => u.startsWith(BACKPORT_IG)) ||
    (subscription?.supportedProfile ?? []).some((p) => p.startsWith(BACKPORT_IG)) ||
    (subscription?.profile ?? '').startsWith(BACKPORT_IG) ||
    resources.some((r) => (r.type as string) === 'SubscriptionTopic') ||
    (subscription?.operation ?? []).some(
      (o) =>
        o.name === 'status' ||
        o.name === '$status' ||
        o.name === 'events' ||
        o.name === '$events' ||
        (o.definition ?? '').startsWith(BACKPORT_IG),
    );
  if (backport) return { style: 'backport', reason: 'the CapabilityStatement declares the R4 Subscriptions backport' };
  if (subscription) return { style: 'classic', reason: 'the CapabilityStatement lists Subscription without the R4 backport' };
  return { style: 'classic', reason: 'the CapabilityStatement lists no Subscription; trying classic R4 Subscriptions' };
}
