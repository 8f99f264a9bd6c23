import type { HumanName, Patient } from '@medplum/fhirtypes';

/** A hospital identifier of a patient (https://hl7.org/fhir/R4/datatypes.html#Identifier). */
export interface PatientIdentifier {
  readonly system: string;
  readonly value: string;
}

/** Why the hospital's event ends a course, in the words of `POST /v1/courses/{id}/stop`. */
export type CourseEnd = 'deceased' | 'discharged';

/**
 * What one hospital event says about one patient, whatever carried it (an HL7 v2 ADT
 * message or a FHIR notification): who, and what changed.
 */
export interface PatientEvent {
  /** The patient's identifiers as the adapter knows them (PID-3, Patient.identifier). */
  readonly identifiers: readonly PatientIdentifier[];
  /** The EHR's own Patient id, when the event names the patient that way (FHIR Encounter.subject). */
  readonly ehrPatientId?: string;
  /** Set when the event ends the patient's courses. */
  readonly courseEnd?: CourseEnd;
  /** Why, in words for the care team and the CarePlan (no patient data beyond the event). */
  readonly endReason?: string;
  /** When the patient died, if the event says (FHIR date or dateTime). */
  readonly deceasedAt?: string;
  /** New demographics (A08). */
  readonly demographics?: Demographics;
  /** A40: the identifiers of the patient merged into this one. */
  readonly mergedIdentifiers?: readonly PatientIdentifier[];
}

export interface Demographics {
  readonly name?: readonly HumanName[];
  readonly birthDate?: string;
  readonly gender?: Patient['gender'];
}

/** Site settings that shape how events are read. */
export interface InboundSettings {
  /** PID-3 assigning authority (CX.4.1) → identifier system. */
  readonly assigningAuthorities: ReadonlyMap<string, string>;
  /** Discharge dispositions that end a course as `discharged`. */
  readonly dischargeStopCodes: ReadonlySet<string>;
}
