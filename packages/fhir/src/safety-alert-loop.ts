import type { Communication, Extension, Flag, Patient, Provenance, Reference } from '@medplum/fhirtypes';
import { provenanceKey } from './business-keys';
import { buildCareTeamCommunication } from './communication';
import { KAP_CANONICAL } from './resource-ids';
import { buildProvenance } from './provenance';
import { validateResource } from './validate';

/**
 * Closing a safety alert's loop in FHIR. R4 Flag has no element for "seen by", so the
 * acknowledgement and the resolution are extensions on the Flag (who, when, what they
 * noted); resolving also ends the Flag (`inactive`, `period.end`), so EHRs stop showing it.
 * Each step is also a care-team Communication (the webhooks carry it) and a Provenance
 * naming the clinician as author. An escalation is a `stat` Communication about the Flag.
 */

export const ALERT_ACKNOWLEDGEMENT_EXTENSION = `${KAP_CANONICAL}/StructureDefinition/alert-acknowledgement`;
export const ALERT_RESOLUTION_EXTENSION = `${KAP_CANONICAL}/StructureDefinition/alert-resolution`;

/** The business key of one step of an alert: `safety-alert/<id>/acknowledgement`, `.../escalation/2`. */
export const safetyAlertStepKey = (alertId: string, step: 'acknowledgement' | 'resolution' | `escalation/${number}`): string =>
  `safety-alert/${alertId}/${step}`;

export interface AlertStep {
  readonly by: string;
  readonly at: string;
  readonly note?: string;
}

function stepExtension(url: string, step: AlertStep): Extension {
  return {
    url,
    extension: [
      { url: 'by', valueString: step.by },
      { url: 'at', valueDateTime: step.at },
      ...(step.note ? [{ url: 'note', valueString: step.note }] : []),
    ],
  };
}

const withExtension = (flag: Flag, ext: Extension): Extension[] => [...(flag.extension ?? []).filter((e) => e.url !== ext.url), ext];

/** The Flag, still active, saying who acknowledged it and when. */
export function acknowledgeFlag(flag: Flag, step: AlertStep): Flag {
  return validateResource({ ...flag, extension: withExtension(flag, stepExtension(ALERT_ACKNOWLEDGEMENT_EXTENSION, step)) } satisfies Flag);
}

/** The Flag ended: inactive from the resolution's time, saying who resolved it and why. */
export function resolveFlag(flag: Flag, step: AlertStep): Flag {
  return validateResource({
    ...flag,
    status: 'inactive',
    period: { ...flag.period, end: step.at },
    extension: withExtension(flag, stepExtension(ALERT_RESOLUTION_EXTENSION, step)),
  } satisfies Flag);
}

export interface AlertStepRecordInput {
  readonly alertId: string;
  readonly step: 'acknowledgement' | 'resolution' | `escalation/${number}`;
  readonly patient: Reference<Patient>;
  readonly flag: Reference<Flag>;
  readonly text: string;
  readonly at: string;
  /** The clinician, for an acknowledgement or a resolution; none for an escalation (the adapter did it). */
  readonly by?: string;
}

/** The Communication that tells the team of a step, and the Provenance over it and the Flag. */
export function buildAlertStepRecords(input: AlertStepRecordInput): { communication: Communication; provenance: Provenance } {
  const key = safetyAlertStepKey(input.alertId, input.step);
  const escalation = input.step.startsWith('escalation/');
  const communication = buildCareTeamCommunication({
    key,
    patient: input.patient,
    about: [input.flag],
    category: escalation
      ? 'safety-alert-escalation'
      : input.step === 'acknowledgement'
        ? 'safety-alert-acknowledged'
        : 'safety-alert-resolved',
    text: input.text,
    sent: input.at,
    priority: escalation ? 'stat' : 'routine',
  });
  const provenance = buildProvenance({
    key: provenanceKey(key),
    targets: [input.flag, { reference: `Communication/${communication.id}` }],
    recorded: input.at,
    activity: escalation ? 'CREATE' : 'UPDATE',
    reason: input.text,
    ...(input.by ? { authorDisplay: input.by } : {}),
  });
  return { communication, provenance };
}
