import { assigningAuthorities, dischargeStopCodes } from '@kap/config';
import type { EhrClient } from '@kap/ehr-client';
import {
  CLASSIC_CRITERIA,
  parseHl7Text,
  patientEventFromResource,
  readAdt,
  readNotification,
  type InboundSettings,
  type PatientEvent,
} from '@kap/inbound';
import type { InboundMessageJobData } from '@kap/queue';
import {
  getInboundMessage,
  lockInboundMessage,
  markCompleted,
  markInboundProcessed,
  tenantOf,
  type TenantDb,
  type InboundMessageRow,
  type JsonValue,
} from '@kap/store';
import type { Bundle, Resource, ResourceType } from '@medplum/fhirtypes';
import type { Config } from '@kap/config';
import type { Logger } from 'pino';
import { auditAdapterWrites, type AdapterWrite } from '../audit';
import { applyPatientEvent, type EventOutcome } from './apply-event';

/** One tenant's view: its messages, database handle, EHR and webhooks. */
export interface InboundDeps {
  readonly config: Config;
  readonly webhookUrls: readonly string[];
  readonly db: TenantDb;
  readonly ehr: EhrClient;
  readonly logger: Logger;
  readonly now?: () => Date;
}

export function inboundSettings(config: Config): InboundSettings {
  return { assigningAuthorities: assigningAuthorities(config), dischargeStopCodes: dischargeStopCodes(config) };
}

/**
 * Applies one stored hospital message, once: its events are read again from what was
 * stored (the same pure reading the listener answered with), focus resources of `id-only`
 * notifications are read from the EHR first, and then every effect commits in one
 * transaction with the message marked processed. A second run finds it processed and
 * does nothing. Throws to be retried (the EHR or the database away).
 */
export async function applyInboundMessage(deps: InboundDeps, data: InboundMessageJobData): Promise<string> {
  const message = await getInboundMessage(deps.db, data.inboundMessageId);
  if (!message || message.status !== 'accepted') {
    await markCompleted(deps.db, data.outboxKey);
    return `obsolete: ${message?.status ?? 'unknown message'}`;
  }
  const events = await eventsOf(deps, message);
  const at = (deps.now ?? (() => new Date()))().toISOString();
  return deps.db
    .transaction(async (tx) => {
      if ((await lockInboundMessage(tx, message.id)) !== 'accepted') throw new AlreadyApplied();
      const outcomes: EventOutcome[] = [];
      for (const event of events) {
        outcomes.push(await applyPatientEvent(tx, event, { messageId: message.id, at, webhookUrls: deps.webhookUrls }));
      }
      if (!(await markInboundProcessed(tx, message.id, outcomes as unknown as JsonValue))) {
        // Another run applied it meanwhile: roll this one back.
        throw new AlreadyApplied();
      }
      await auditAdapterWrites(tx, deps.config, 'worker/ehr-inbound', appliedWrites(message, events, outcomes), new Date(at));
      await markCompleted(tx, data.outboxKey);
      const stopped = outcomes.flatMap((o) => o.stoppedCourses ?? []);
      deps.logger.info(
        {
          tenant: tenantOf(deps.db),
          inboundMessage: message.id,
          type: message.messageType,
          events: outcomes.length,
          matched: outcomes.map((o) => o.matched),
          stoppedCourses: stopped.length,
        },
        'hospital message applied',
      );
      return `applied: ${outcomes.map((o) => o.matched).join(',') || 'no events'}`;
    })
    .catch(async (err: unknown) => {
      if (!(err instanceof AlreadyApplied)) throw err;
      await markCompleted(deps.db, data.outboxKey);
      return 'already applied';
    });
}

class AlreadyApplied extends Error {}

/**
 * The patients whose data applying the message changed (Patient updated or marked deceased,
 * courses stopped, records merged), each with the message as the cause. An event that
 * matched nobody, or changed nothing, writes no patient data and is not audited.
 */
export function appliedWrites(
  message: InboundMessageRow,
  events: readonly PatientEvent[],
  outcomes: readonly EventOutcome[],
): AdapterWrite[] {
  const cause = {
    kind: 'inbound-message' as const,
    id: String(message.id),
    description: `${message.channel} ${message.messageType ?? 'message'} applied`,
  };
  return outcomes.flatMap((o, i): AdapterWrite[] => {
    if (o.matched !== 'patient' || !o.patientId) return [];
    const event = events[i];
    const wrote =
      o.demographicsUpdated || (o.stoppedCourses?.length ?? 0) > 0 || (o.merged?.length ?? 0) > 0 || event?.courseEnd === 'deceased';
    if (!wrote) return [];
    const stopped = o.stoppedCourses?.length ? `; ${o.stoppedCourses.length} course(s) stopped` : '';
    return [
      { patientId: o.patientId, interaction: 'update', cause: { ...cause, description: `${cause.description}${stopped}` } },
      ...(o.merged ?? []).map((mergedId): AdapterWrite => ({ patientId: mergedId, interaction: 'update', cause })),
    ];
  });
}

/** How far back a ping (a classic rest-hook without payload) looks for what changed. */
const PING_LOOKBACK_MS = 15 * 60_000;

/**
 * A classic rest-hook without payload says only that something matched a Subscription of
 * ours: the EHR is asked with the same criteria for what changed shortly before it came.
 * Applying a death or a discharge twice changes nothing, so an overlap is harmless.
 */
async function pingEvents(
  deps: InboundDeps,
  message: InboundMessageRow,
  settings: ReturnType<typeof inboundSettings>,
): Promise<PatientEvent[]> {
  const since = new Date(Date.parse(message.receivedAt) - PING_LOOKBACK_MS).toISOString();
  const events: PatientEvent[] = [];
  for (const criteria of Object.values(CLASSIC_CRITERIA)) {
    const [type, query] = criteria.split('?') as [ResourceType, string];
    const params: Record<string, string> = { ...Object.fromEntries(new URLSearchParams(query)), _lastUpdated: `ge${since}` };
    for (const resource of await deps.ehr.searchAll(type, params)) {
      const event = patientEventFromResource(resource, settings);
      if (event) events.push(event);
    }
  }
  return events;
}

async function eventsOf(deps: InboundDeps, message: InboundMessageRow): Promise<PatientEvent[]> {
  const settings = inboundSettings(deps.config);
  if (message.channel === 'hl7v2') {
    const reading = readAdt(parseHl7Text(message.content).message, settings);
    return reading.outcome === 'accepted' ? [...reading.events] : [];
  }
  const body = JSON.parse(message.content) as Bundle | Resource | Record<string, never>;
  if (!('resourceType' in body)) return pingEvents(deps, message, settings);
  if (body.resourceType !== 'Bundle') {
    // Classic rest-hook: the changed resource itself, as the EHR stored it.
    const event = patientEventFromResource(body, settings);
    return event ? [event] : [];
  }
  const notification = readNotification(body);
  if (notification.type !== 'event-notification') return [];
  const events: PatientEvent[] = [];
  for (const e of notification.events) {
    if (e.focus.type !== 'Patient' && e.focus.type !== 'Encounter') continue;
    // id-only: the notification names the resource; what it says now is read from the EHR.
    const resource: Resource | undefined = e.resource ?? (await deps.ehr.read(e.focus.type as ResourceType, e.focus.id))?.resource;
    if (!resource) continue;
    const event = patientEventFromResource(resource, settings);
    if (event) events.push(event);
  }
  return events;
}
