import type { AdverseEvent, MedicationAdministration, Reference } from '@medplum/fhirtypes';
import type { DosingSessionRequest } from '@kap/contracts';
import { ADVERSE_EVENT_SEVERITY } from './codes';
import { concept } from './datatypes';
import { resourceId, resourceIdentifier } from './resource-ids';
import type { SessionContext } from './session-context';
import { validateResource } from './validate';

/**
 * An adverse event reported during a dosing session.
 * @see https://hl7.org/fhir/R4/adverseevent.html
 */

export type ReportedAdverseEvent = NonNullable<DosingSessionRequest['adverseEvents']>[number];

/**
 * An `actual` AdverseEvent in the session's Encounter, its severity from the R4
 * adverse-event-severity code system, the ketamine administration as the suspect.
 * `sequence` (1-based) is its position in the request and part of its key.
 *
 * The request does not time each event, so `date` (when it occurred) is left out rather
 * than guessed: the Encounter bounds it, and `recordedDate` says when it was recorded.
 */
export function buildAdverseEvent(
  ctx: SessionContext,
  event: ReportedAdverseEvent,
  sequence: number,
  suspect: Reference<MedicationAdministration>,
): AdverseEvent {
  const key = `${ctx.key}/adverse-event/${sequence}`;
  const resource: AdverseEvent = {
    resourceType: 'AdverseEvent',
    id: resourceId(key),
    // R4 AdverseEvent.identifier is 0..1, unlike most resources.
    identifier: resourceIdentifier(key),
    actuality: 'actual',
    event: { text: event.description },
    subject: ctx.subject,
    encounter: ctx.encounter,
    recordedDate: ctx.recordedAt,
    severity: concept([ADVERSE_EVENT_SEVERITY[event.severity]]),
    suspectEntity: [{ instance: suspect }],
  };
  return validateResource(resource);
}
