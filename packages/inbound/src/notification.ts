import type { Bundle, Encounter, Parameters, ParametersParameter, Patient, Resource } from '@medplum/fhirtypes';
import { z } from 'zod';
import type { InboundSettings, PatientEvent, PatientIdentifier } from './event';

/**
 * FHIR Subscriptions R5 Backport for R4 (https://hl7.org/fhir/uv/subscriptions-backport/):
 * a notification is a `history` Bundle whose first entry is the SubscriptionStatus as a
 * `Parameters` resource; events name their focus, which follows in the Bundle with
 * `full-resource` content and must be read from the EHR with `id-only`.
 */

export const NOTIFICATION_TYPES = ['handshake', 'heartbeat', 'event-notification', 'query-status', 'query-event'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

const Reference = z.object({ reference: z.string().min(1).optional() }).loose();
const StatusParameter = z
  .object({
    name: z.string().min(1),
    valueCode: z.string().optional(),
    valueString: z.string().optional(),
    valueReference: Reference.optional(),
    valueCanonical: z.string().optional(),
    part: z.array(z.object({ name: z.string() }).loose()).optional(),
  })
  .loose();

/** The request body of `POST /v1/ehr-notifications`: the shape checks that make it a notification. */
export const NotificationBundle = z
  .object({
    resourceType: z.literal('Bundle'),
    type: z.literal('history'),
    entry: z
      .array(z.object({ fullUrl: z.string().optional(), resource: z.object({ resourceType: z.string() }).loose().optional() }).loose())
      .min(1),
  })
  .loose()
  .superRefine((bundle, ctx) => {
    const status = bundle.entry[0]?.resource;
    if (status?.resourceType !== 'Parameters') {
      ctx.addIssue({
        code: 'custom',
        path: ['entry', 0, 'resource', 'resourceType'],
        message: 'the first entry must be the SubscriptionStatus Parameters',
      });
      return;
    }
    const params = z.array(StatusParameter).safeParse((status as { parameter?: unknown }).parameter ?? []);
    if (!params.success) {
      ctx.addIssue({ code: 'custom', path: ['entry', 0, 'resource', 'parameter'], message: 'malformed SubscriptionStatus parameters' });
      return;
    }
    const type = params.data.find((p) => p.name === 'type')?.valueCode;
    if (!type || !(NOTIFICATION_TYPES as readonly string[]).includes(type)) {
      ctx.addIssue({
        code: 'custom',
        path: ['entry', 0, 'resource', 'parameter', 'type'],
        message: `type must be one of ${NOTIFICATION_TYPES.join(', ')}`,
      });
    }
    if (!params.data.some((p) => p.name === 'subscription' && p.valueReference?.reference)) {
      ctx.addIssue({
        code: 'custom',
        path: ['entry', 0, 'resource', 'parameter', 'subscription'],
        message: 'the subscription reference is required',
      });
    }
    if (type === 'event-notification') {
      const events = params.data.filter((p) => p.name === 'notification-event');
      events.forEach((event, i) => {
        const focus = (event.part ?? []).find((p) => p.name === 'focus') as { valueReference?: { reference?: string } } | undefined;
        if (!focus?.valueReference?.reference) {
          ctx.addIssue({
            code: 'custom',
            path: ['entry', 0, 'resource', 'parameter', 'notification-event', i, 'focus'],
            message: 'each event needs a focus reference',
          });
        }
      });
    }
  });

export interface NotificationEvent {
  readonly eventNumber?: string;
  /** `Type/id` of the focus as the EHR names it. */
  readonly focus: { readonly type: string; readonly id: string; readonly reference: string };
  /** The focus itself, with `full-resource` content; undefined with `id-only`. */
  readonly resource?: Resource;
}

export interface ReadNotification {
  readonly type: NotificationType;
  readonly subscription: string;
  readonly eventsSinceStart?: string;
  readonly events: readonly NotificationEvent[];
}

/** Reads a bundle that passed {@link NotificationBundle}. */
export function readNotification(bundle: Bundle): ReadNotification {
  const status = bundle.entry?.[0]?.resource as Parameters;
  const params = status.parameter ?? [];
  const value = (name: string): ParametersParameter | undefined => params.find((p) => p.name === name);
  const type = value('type')?.valueCode as NotificationType;
  const subscription = value('subscription')?.valueReference?.reference ?? '';
  const eventsSinceStart = value('events-since-subscription-start')?.valueString ?? value('events-since-subscription-start')?.valueInteger;
  const rest = (bundle.entry ?? []).slice(1);
  const events: NotificationEvent[] = [];
  for (const event of params.filter((p) => p.name === 'notification-event')) {
    const parts = event.part ?? [];
    const reference = parts.find((p) => p.name === 'focus')?.valueReference?.reference;
    const focus = reference ? parseReference(reference) : undefined;
    if (!focus) continue;
    const eventNumber = parts.find((p) => p.name === 'event-number')?.valueString;
    const entry = rest.find(
      (e) =>
        e.resource?.resourceType === focus.type && (e.resource.id === focus.id || (e.fullUrl ?? '').endsWith(`${focus.type}/${focus.id}`)),
    );
    events.push({ ...(eventNumber ? { eventNumber } : {}), focus, ...(entry?.resource ? { resource: entry.resource } : {}) });
  }
  return { type, subscription, ...(eventsSinceStart !== undefined ? { eventsSinceStart: String(eventsSinceStart) } : {}), events };
}

/** `Type/id` from a relative or absolute reference (a `_history` suffix dropped). */
export function parseReference(reference: string): { type: string; id: string; reference: string } | undefined {
  const m = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference);
  if (!m) return undefined;
  const [, type, id] = m as unknown as [string, string, string];
  return { type, id, reference: `${type}/${id}` };
}

/** discharge-disposition (http://terminology.hl7.org/CodeSystem/discharge-disposition) `exp`, or UB-04 `20`: expired. */
const EXPIRED_CODES = new Set(['exp', '20']);

/**
 * What a Patient or Encounter from the EHR says about the patient: a Patient that is
 * `deceased`, or an Encounter discharged as expired or with a disposition that ends a
 * course. Undefined for other resources.
 */
export function patientEventFromResource(resource: Resource, settings: InboundSettings): PatientEvent | undefined {
  if (resource.resourceType === 'Patient') {
    const patient = resource as Patient;
    const identifiers = identifiersOf(patient.identifier);
    const dead = patient.deceasedBoolean === true || !!patient.deceasedDateTime;
    return {
      identifiers,
      ...(patient.id ? { ehrPatientId: patient.id } : {}),
      ...(dead ? { courseEnd: 'deceased' as const, endReason: "The EHR reported the patient's death (FHIR notification)." } : {}),
      ...(patient.deceasedDateTime ? { deceasedAt: patient.deceasedDateTime } : {}),
    };
  }
  if (resource.resourceType === 'Encounter') {
    const encounter = resource as Encounter;
    const subject = encounter.subject;
    const ehrPatientId = subject?.reference ? parseReference(subject.reference)?.id : undefined;
    const identifiers = identifiersOf(subject?.identifier ? [subject.identifier] : undefined);
    const codes = (encounter.hospitalization?.dischargeDisposition?.coding ?? []).map((c) => c.code ?? '').filter(Boolean);
    const expired = codes.find((c) => EXPIRED_CODES.has(c));
    const stop = codes.find((c) => settings.dischargeStopCodes.has(c));
    return {
      identifiers,
      ...(ehrPatientId ? { ehrPatientId } : {}),
      ...(expired
        ? {
            courseEnd: 'deceased' as const,
            endReason: `The EHR reported the patient's death at discharge (Encounter disposition ${expired}).`,
          }
        : stop
          ? { courseEnd: 'discharged' as const, endReason: `The EHR reported a discharge with disposition ${stop} (FHIR notification).` }
          : {}),
    };
  }
  return undefined;
}

function identifiersOf(list: Patient['identifier']): PatientIdentifier[] {
  return (list ?? []).filter((i) => i.system && i.value).map((i) => ({ system: i.system as string, value: i.value as string }));
}

/**
 * A classic R4 rest-hook body (http://hl7.org/fhir/R4/subscription.html#2.46.7.1): the
 * changed resource itself when the Subscription has a `payload`. Only the types the adapter
 * subscribes to are taken; an id is needed to name the event.
 */
export const ClassicNotificationResource = z
  .object({
    resourceType: z.enum(['Patient', 'Encounter'], {
      message: 'a rest-hook body must be a Patient or Encounter (or a Bundle of the R4 backport)',
    }),
    id: z.string().min(1, 'the resource id is required'),
    meta: z.object({ versionId: z.string().optional() }).loose().optional(),
  })
  .loose();

/** What `POST /v1/ehr-notifications` received, whichever Subscription style sent it. */
export type EhrNotification =
  | { readonly style: 'backport'; readonly bundle: Bundle }
  | { readonly style: 'classic'; readonly resource: Patient | Encounter }
  /** A classic Subscription without `payload` (or a delete): the body says nothing; the EHR is asked. */
  | { readonly style: 'classic-ping' };

/**
 * Tells the three apart. An empty body (none, or `{}` as Medplum sends for a delete) is a
 * ping; a Bundle must be a backport notification; anything else must be a classic resource.
 * Returns the zod issues of the shape it was checked against.
 */
export function readEhrNotificationBody(body: unknown): { ok: true; value: EhrNotification } | { ok: false; issues: z.core.$ZodIssue[] } {
  if (body === undefined || body === null || body === '' || (isPlainObject(body) && Object.keys(body).length === 0)) {
    return { ok: true, value: { style: 'classic-ping' } };
  }
  if (isPlainObject(body) && body.resourceType === 'Bundle') {
    const parsed = NotificationBundle.safeParse(body);
    return parsed.success
      ? { ok: true, value: { style: 'backport', bundle: parsed.data as unknown as Bundle } }
      : { ok: false, issues: parsed.error.issues };
  }
  const parsed = ClassicNotificationResource.safeParse(body);
  return parsed.success
    ? { ok: true, value: { style: 'classic', resource: parsed.data as unknown as Patient | Encounter } }
    : { ok: false, issues: parsed.error.issues };
}

/** The key that makes a classic notification's repeats one message: the resource version it reports. */
export function classicNotificationKey(resource: Resource): string | undefined {
  const version = resource.meta?.versionId;
  return resource.id && version ? `${resource.resourceType}/${resource.id}/_history/${version}` : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
