import type { AuditEvent, AuditEventAgent, AuditEventEntity } from '@medplum/fhirtypes';
import { AUDIT, coding, type CodeDef } from './codes';
import { concept } from './datatypes';
import { KAP_CANONICAL, RESOURCE_IDENTIFIER_SYSTEM } from './resource-ids';
import { ADAPTER_DISPLAY } from './provenance';
import { validateResource } from './validate';

/**
 * AuditEvents of the RESTful interactions with patient data, in the shapes of IHE Basic
 * Audit Log Patterns (BALP): `type` rest, the interaction as `subtype`, the client as the
 * Source Role ID agent and the adapter as the Destination Role ID agent (BALP follows DICOM
 * here, though the data flows the other way), the Patient and each resource as entities, a
 * search's query as a Query entity.
 * @see https://profiles.ihe.net/ITI/BALP/
 * @see https://hl7.org/fhir/R4/auditevent.html
 */

export type AuditInteraction = 'read' | 'vread' | 'search-type' | 'create' | 'update';

const SUBTYPE: Record<AuditInteraction, CodeDef> = {
  read: AUDIT.read,
  vread: AUDIT.vread,
  'search-type': AUDIT.searchType,
  create: AUDIT.create,
  update: AUDIT.update,
};

/** AuditEvent.action (http://hl7.org/fhir/R4/valueset-audit-event-action.html): BALP records a search as Execute. */
const ACTION: Record<AuditInteraction, NonNullable<AuditEvent['action']>> = {
  read: 'R',
  vread: 'R',
  'search-type': 'E',
  create: 'C',
  update: 'U',
};

/** The client that asked, as authentication established it. */
export interface AuditClient {
  /** The token's `client_id`, else its `sub`. */
  readonly clientId: string;
  /** The token's `sub`, when it names someone other than the client. */
  readonly subject?: string;
  /** The client's network address, as the adapter saw it. */
  readonly address?: string;
}

export interface AuditEventInput {
  readonly id: string;
  readonly interaction: AuditInteraction;
  readonly recorded: string;
  /** The HTTP status the request was answered with: it decides the outcome. */
  readonly status: number;
  readonly client: AuditClient;
  /** The adapter's FHIR base URL: the server's network address in the event. */
  readonly baseUrl: string;
  /** The patient whose data it was, when known (a failed read of an unknown id has none). */
  readonly patientId?: string;
  /** `Type/id` (or `Type/id/_history/n`) of each resource read or written besides the Patient. */
  readonly resources?: readonly string[];
  /** A search as received: its path and query string (`/fhir/R4/Observation?patient=…`). */
  readonly query?: string;
}

/**
 * AuditEvent.outcome from the HTTP status (http://hl7.org/fhir/R4/valueset-audit-event-outcome.html):
 * a refusal of the client's request (4xx) is a minor failure, the server's own failure (5xx) a serious one.
 */
export function auditOutcome(status: number): NonNullable<AuditEvent['outcome']> {
  if (status < 400) return '0';
  return status < 500 ? '4' : '8';
}

/** The patient an AuditEvent names (its Patient-role entity), if any. */
export function auditPatientId(event: AuditEvent): string | undefined {
  const entity = event.entity?.find((e) => e.role?.system === AUDIT.patientRole.system && e.role.code === AUDIT.patientRole.code);
  const match = /^Patient\/([^/]+)$/.exec(entity?.what?.reference ?? '');
  return match?.[1];
}

/**
 * The AuditEvent of one interaction. `validate: false` skips the R4 validation (about 0.6 ms an
 * event) for the batches of reads, where it would hold up the event loop for a whole batch;
 * every shape this makes is validated in its tests, for each interaction with and without
 * each optional part.
 */
export function buildAuditEvent(input: AuditEventInput, options: { readonly validate?: boolean } = {}): AuditEvent {
  const client: AuditEventAgent = {
    type: concept([AUDIT.sourceRole]),
    who: { identifier: { value: input.client.clientId } },
    ...(input.client.subject && input.client.subject !== input.client.clientId ? { altId: input.client.subject } : {}),
    requestor: true,
    ...(input.client.address ? { network: { address: input.client.address, type: '2' as const } } : {}),
  };
  const adapter: AuditEventAgent = {
    type: concept([AUDIT.destinationRole]),
    who: { display: ADAPTER_DISPLAY },
    requestor: false,
    network: { address: input.baseUrl, type: '5' },
  };
  const entity: AuditEventEntity[] = [
    ...patientAndResourceEntities(input.patientId, input.resources),
    ...(input.query !== undefined
      ? [{ type: coding(AUDIT.systemObject), role: coding(AUDIT.queryRole), query: Buffer.from(input.query, 'utf8').toString('base64') }]
      : []),
  ];
  const outcome = auditOutcome(input.status);
  const event: AuditEvent = {
    resourceType: 'AuditEvent',
    id: input.id,
    // AuditEvent has no identifier element: the EHR sync finds it again by this tag, as it does a Provenance.
    meta: { tag: [{ system: RESOURCE_IDENTIFIER_SYSTEM, code: input.id }] },
    type: coding(AUDIT.rest),
    subtype: [coding(SUBTYPE[input.interaction])],
    action: ACTION[input.interaction],
    recorded: input.recorded,
    outcome,
    // The status only: an error's diagnostics may quote what the client sent.
    ...(outcome === '0' ? {} : { outcomeDesc: `HTTP ${input.status}` }),
    agent: [client, adapter],
    source: { site: input.baseUrl, observer: { display: ADAPTER_DISPLAY }, type: [coding(AUDIT.applicationServer)] },
    ...(entity.length > 0 ? { entity } : {}),
  };
  return options.validate === false ? event : validateResource(event);
}

/** One minute's refusals of tokens alike (same claimed client, address and reason), as the deployment counts them. */
export interface RefusedTokenAuditInput {
  readonly id: string;
  readonly windowStart: string;
  readonly firstAt: string;
  readonly lastAt: string;
  /** The client the refused token named (`client_id`, `azp` or `sub`), unverified; '' when it named none. */
  readonly clientId: string;
  readonly address: string;
  readonly reason: string;
  readonly count: number;
  readonly baseUrl: string;
}

/** `agent.who.display` of a client known only from a token that was refused. */
export const UNVERIFIED_CLIENT_DISPLAY = 'client named by a refused token (unverified)';

/**
 * The AuditEvent of refused tokens (401): a User Authentication event (DICOM 110114, subtype
 * Login 110122) that failed, with the client the token claimed to be marked unverified, the
 * address, the reason and how many times in that minute (`period`, `outcomeDesc`). It names
 * no patient and never the token itself.
 * @see https://hl7.org/fhir/R4/auditevent.html
 * @see https://profiles.ihe.net/ITI/BALP/
 */
export function buildRefusedTokenAuditEvent(input: RefusedTokenAuditInput): AuditEvent {
  const client: AuditEventAgent = {
    type: concept([AUDIT.sourceRole]),
    who: input.clientId
      ? { identifier: { value: input.clientId }, display: UNVERIFIED_CLIENT_DISPLAY }
      : { display: 'no client named (no token, or one without a client claim)' },
    requestor: true,
    ...(input.address ? { network: { address: input.address, type: '2' as const } } : {}),
  };
  const adapter: AuditEventAgent = {
    type: concept([AUDIT.destinationRole]),
    who: { display: ADAPTER_DISPLAY },
    requestor: false,
    network: { address: input.baseUrl, type: '5' },
  };
  return validateResource<AuditEvent>({
    resourceType: 'AuditEvent',
    id: input.id,
    type: coding(AUDIT.userAuthentication),
    subtype: [coding(AUDIT.login)],
    action: 'E',
    period: { start: input.firstAt, end: input.lastAt },
    recorded: input.lastAt,
    outcome: '4',
    outcomeDesc: `HTTP 401: ${input.reason}; ${input.count} time(s) in the minute from ${input.windowStart}`,
    agent: [client, adapter],
    source: { site: input.baseUrl, observer: { display: ADAPTER_DISPLAY }, type: [coding(AUDIT.applicationServer)] },
  });
}

/** What made the adapter write on its own: the stored message it applied, the follow-up or alert it escalated. */
export interface AdapterWriteCause {
  /**
   * The identifier system's last segment: `inbound-message` (its id), `follow-up`,
   * `safety-alert`, or `outbox` (the key of the stored work that asked for the write).
   */
  readonly kind: 'inbound-message' | 'follow-up' | 'safety-alert' | 'outbox';
  readonly id: string;
  /** In words, e.g. `HL7 v2 ADT^A03 applied`; never patient data. */
  readonly description: string;
}

export interface AdapterWriteAuditInput {
  readonly id: string;
  readonly recorded: string;
  readonly interaction: 'create' | 'update';
  /** The adapter's FHIR base URL. */
  readonly baseUrl: string;
  /** Which part of the adapter acted, e.g. `worker/ehr-inbound`. */
  readonly actor: string;
  readonly patientId?: string;
  /** `Type/id` of each resource written besides the Patient. */
  readonly resources?: readonly string[];
  readonly cause: AdapterWriteCause;
}

/** The identifier system of a cause kind, e.g. `https://kap-adapter.org/fhir/sid/inbound-message`. */
export function adapterCauseSystem(kind: AdapterWriteCause['kind']): string {
  return `${KAP_CANONICAL}/sid/${kind}`;
}

/**
 * The AuditEvent of a write of patient data the adapter made on its own (no client asked):
 * a hospital message applied, a safety alert escalated. BALP's RESTful shape, with the
 * adapter itself as the one requesting agent (`altId` names the part that acted), the
 * Patient and each resource written as entities, and the cause as a Job entity identified
 * by its id (`https://kap-adapter.org/fhir/sid/<kind>|<id>`).
 */
export function buildAdapterWriteAuditEvent(input: AdapterWriteAuditInput): AuditEvent {
  const adapter: AuditEventAgent = {
    type: concept([AUDIT.sourceRole]),
    who: { display: ADAPTER_DISPLAY },
    altId: input.actor,
    requestor: true,
    network: { address: input.baseUrl, type: '5' },
  };
  const entity: AuditEventEntity[] = [
    ...patientAndResourceEntities(input.patientId, input.resources),
    {
      what: { identifier: { system: adapterCauseSystem(input.cause.kind), value: input.cause.id } },
      type: coding(AUDIT.systemObject),
      role: coding(AUDIT.jobRole),
      description: input.cause.description,
    },
  ];
  return validateResource<AuditEvent>({
    resourceType: 'AuditEvent',
    id: input.id,
    meta: { tag: [{ system: RESOURCE_IDENTIFIER_SYSTEM, code: input.id }] },
    type: coding(AUDIT.rest),
    subtype: [coding(SUBTYPE[input.interaction])],
    action: ACTION[input.interaction],
    recorded: input.recorded,
    outcome: '0',
    agent: [adapter],
    source: { site: input.baseUrl, observer: { display: ADAPTER_DISPLAY }, type: [coding(AUDIT.applicationServer)] },
    entity,
  });
}

/** The Patient (as the person) and each other resource touched, once each, as AuditEvent entities. */
function patientAndResourceEntities(patientId: string | undefined, resources: readonly string[] | undefined): AuditEventEntity[] {
  const patientRef = patientId ? `Patient/${patientId}` : undefined;
  return [
    ...(patientRef ? [{ what: { reference: patientRef }, type: coding(AUDIT.person), role: coding(AUDIT.patientRole) }] : []),
    ...[...new Set(resources ?? [])]
      .filter((reference) => reference !== patientRef)
      .map((reference) => ({ what: { reference }, type: coding(AUDIT.systemObject), role: coding(AUDIT.domainResourceRole) })),
  ];
}
