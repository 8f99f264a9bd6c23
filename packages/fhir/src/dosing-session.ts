import type {
  AdverseEvent,
  CarePlan,
  DetectedIssue,
  Encounter,
  Flag,
  MedicationAdministration,
  Observation,
  Patient,
  Procedure,
  Reference,
  Resource,
} from '@medplum/fhirtypes';
import type { DosingSessionRequest } from '@kap/contracts';
import { buildAdverseEvent } from './adverse-event';
import { referenceTo } from './datatypes';
import { buildSessionEncounter } from './encounter';
import { buildKetamineAdministration } from './medication-administration';
import { buildExperienceObservations } from './observation-experience';
import { buildVitalSigns } from './observation-vitals';
import {
  buildBloodPressureDetectedIssue,
  buildBloodPressureFlag,
  isAboveThreshold,
  type AlertThreshold,
  type BloodPressureReading,
} from './session-alert';
import { dosingSessionKey, sessionResourceKey } from './business-keys';
import type { SessionContext } from './session-context';
import { buildSessionProcedure } from './session-procedure';

/**
 * Everything one dosing session produces (docs/domain.md#3-dosing-sessions): the visit, the psychotherapy
 * session, the ketamine given, the serial vital signs, the experience ratings, adverse
 * events, and an alert when an in-session blood pressure was above the threshold.
 */

export interface DosingSessionInput {
  courseId: string;
  /** The adapter's session id; a second identifier of the Encounter. */
  sessionId: string;
  sessionNumber: 1 | 2;
  patient: Reference<Patient>;
  carePlan: Reference<CarePlan>;
  request: DosingSessionRequest;
  /** The instant the adapter recorded the session. */
  recordedAt: string;
  /** In-session blood-pressure alert: a reading strictly above either limit raises it. */
  alertThreshold: AlertThreshold;
  /** The clinic's IANA time zone, for the reading times in the alert's text; absent: the instants as recorded. */
  timeZone?: string;
}

export interface DosingSessionResources {
  encounter: Encounter;
  procedure: Procedure;
  medicationAdministration: MedicationAdministration;
  /** One vital-signs set per `request.vitals` entry, in request order (blood pressure first in each set). */
  vitals: Observation[];
  experience: Observation[];
  adverseEvents: AdverseEvent[];
  /** Only when a reading was above the threshold. */
  alert?: { flag: Flag; detectedIssue: DetectedIssue };
  /** Everything above: encounter, procedure, administration, vitals, experience, adverse events, detected issue, flag. */
  all: Resource[];
}

/**
 * The resources of one dosing session. Every id derives from `dosingSessionKey(courseId,
 * sessionNumber)`, so building again (a retried request) gives the same resources.
 */
export function buildDosingSessionResources(input: DosingSessionInput): DosingSessionResources {
  const { request, sessionNumber } = input;
  // The keys and codes follow input.sessionNumber; a request for the other session is a caller bug.
  if (request.sessionNumber !== sessionNumber) {
    throw new Error(`Session ${sessionNumber} was given the request of session ${request.sessionNumber}`);
  }
  const key = dosingSessionKey(input.courseId, sessionNumber);
  const encounter = buildSessionEncounter({
    key: sessionResourceKey(key, 'encounter'),
    sessionId: input.sessionId,
    sessionNumber,
    subject: input.patient,
    start: request.start,
    end: request.end,
  });
  const procedure = buildSessionProcedure({
    key: sessionResourceKey(key, 'procedure'),
    sessionNumber,
    subject: input.patient,
    encounter: referenceTo(encounter),
    carePlan: input.carePlan,
    start: request.start,
    end: request.end,
  });
  const ctx: SessionContext = {
    key,
    subject: input.patient,
    recordedAt: input.recordedAt,
    encounter: referenceTo(encounter),
    procedure: referenceTo(procedure),
  };
  const medicationAdministration = buildKetamineAdministration({ ctx, sessionNumber, request });

  const readings: BloodPressureReading[] = [];
  const vitals = request.vitals.flatMap((entry, index) => {
    const set = buildVitalSigns(
      {
        key: (path) => sessionResourceKey(key, `vitals/${index + 1}/${path}`),
        subject: input.patient,
        effective: entry.at,
        issued: input.recordedAt,
        encounter: ctx.encounter,
        partOf: [ctx.procedure],
      },
      entry,
    );
    const bp = set[0];
    if (bp) readings.push({ at: entry.at, systolic: entry.systolic, diastolic: entry.diastolic, observation: referenceTo(bp) });
    return set;
  });

  const experience = buildExperienceObservations(ctx, request.experience, request.end);
  const suspect = referenceTo(medicationAdministration);
  const adverseEvents = (request.adverseEvents ?? []).map((event, index) => buildAdverseEvent(ctx, event, index + 1, suspect));

  const above = readings.filter((r) => isAboveThreshold(r, input.alertThreshold)).sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  let alert: DosingSessionResources['alert'];
  if (above.length > 0) {
    const detectedIssue = buildBloodPressureDetectedIssue(ctx, above, input.alertThreshold, input.timeZone);
    alert = { detectedIssue, flag: buildBloodPressureFlag(ctx, above, input.alertThreshold, detectedIssue, input.timeZone) };
  }

  const all: Resource[] = [
    encounter,
    procedure,
    medicationAdministration,
    ...vitals,
    ...experience,
    ...adverseEvents,
    ...(alert ? [alert.detectedIssue, alert.flag] : []),
  ];
  return { encounter, procedure, medicationAdministration, vitals, experience, adverseEvents, ...(alert ? { alert } : {}), all };
}
