import type { DetectedIssue, Flag, Observation, Reference } from '@medplum/fhirtypes';
import { formatClinicTime } from '@kap/domain';
import { HL7 } from './codes';
import { kapCoding } from './code-system';
import { concept, kapConcept, referenceTo } from './datatypes';
import { resourceId, resourceIdentifier } from './resource-ids';
import type { SessionContext } from './session-context';
import { validateResource } from './validate';

/**
 * The in-session blood-pressure alert. Two resources, for two audiences:
 * - a DetectedIssue is the clinical record: what was found (`implicated` = the blood-pressure
 *   Observations), how serious (`severity` high), when it was identified, with the detail;
 * - a Flag is the prominent notice an EHR shows on the patient's chart until a clinician
 *   resolves it; R4 Flag cannot carry the evidence, so it points at the DetectedIssue with
 *   the core `flag-detail` extension.
 * Either alone would lose something: a DetectedIssue is not shown as a banner, and a Flag
 * holds no evidence. This is decision support: neither says what to do.
 * @see https://hl7.org/fhir/R4/detectedissue.html
 * @see https://hl7.org/fhir/R4/flag.html
 * @see https://hl7.org/fhir/R4/extension-flag-detail.html
 */

export const FLAG_DETAIL_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/flag-detail';

/** The in-session alert threshold: a reading strictly above either limit raises the alert. */
export interface AlertThreshold {
  readonly systolicAbove: number;
  readonly diastolicAbove: number;
}

export interface BloodPressureReading {
  readonly at: string;
  readonly systolic: number;
  readonly diastolic: number;
  /** The blood-pressure Observation of the reading. */
  readonly observation: Reference<Observation>;
}

/** Whether a reading is above the threshold: strictly above either limit (equal is not above). */
export const isAboveThreshold = (r: Pick<BloodPressureReading, 'systolic' | 'diastolic'>, t: AlertThreshold): boolean =>
  r.systolic > t.systolicAbove || r.diastolic > t.diastolicAbove;

/** A reading for people: the time as the clinic reads it when its zone is given, else the instant as recorded. */
const describeReading = (r: BloodPressureReading, timeZone?: string): string =>
  `${r.systolic}/${r.diastolic} mmHg at ${timeZone ? formatClinicTime(r.at, timeZone) : r.at}`;
const describeThreshold = (t: AlertThreshold): string => `systolic above ${t.systolicAbove} or diastolic above ${t.diastolicAbove} mmHg`;

function firstOf(readings: readonly BloodPressureReading[]): BloodPressureReading {
  const first = readings[0];
  if (!first) throw new Error('A blood-pressure alert needs at least one reading above the threshold');
  return first;
}

/** The DetectedIssue of the readings above the threshold (in time order, first first). */
export function buildBloodPressureDetectedIssue(
  ctx: SessionContext,
  above: readonly BloodPressureReading[],
  threshold: AlertThreshold,
  timeZone?: string,
): DetectedIssue {
  const first = firstOf(above);
  const key = `${ctx.key}/alert/detected-issue`;
  const issue: DetectedIssue = {
    resourceType: 'DetectedIssue',
    id: resourceId(key),
    identifier: [resourceIdentifier(key)],
    status: 'final',
    code: kapConcept('blood-pressure-alert'),
    severity: 'high',
    patient: ctx.subject,
    identifiedDateTime: first.at,
    implicated: above.map((r) => r.observation),
    detail: `Blood pressure during the dosing session above the alert threshold (${describeThreshold(threshold)}): ${above.map((r) => describeReading(r, timeZone)).join('; ')}.`,
  };
  return validateResource(issue);
}

/** The active clinical Flag naming the first reading above the threshold, pointing at the DetectedIssue. */
export function buildBloodPressureFlag(
  ctx: SessionContext,
  above: readonly BloodPressureReading[],
  threshold: AlertThreshold,
  detectedIssue: DetectedIssue,
  timeZone?: string,
): Flag {
  const first = firstOf(above);
  const key = `${ctx.key}/alert/flag`;
  const more = above.length > 1 ? ` (${above.length} readings above)` : '';
  const flag: Flag = {
    resourceType: 'Flag',
    id: resourceId(key),
    extension: [{ url: FLAG_DETAIL_EXTENSION, valueReference: referenceTo(detectedIssue) }],
    identifier: [resourceIdentifier(key)],
    status: 'active',
    category: [concept([HL7.clinicalFlag])],
    code: {
      coding: [kapCoding('blood-pressure-alert')],
      text: `Blood pressure ${describeReading(first, timeZone)} during the dosing session, above the alert threshold (${describeThreshold(threshold)})${more}`,
    },
    subject: ctx.subject,
    period: { start: first.at },
    encounter: ctx.encounter,
  };
  return validateResource(flag);
}
