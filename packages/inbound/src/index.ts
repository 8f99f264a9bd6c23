/**
 * `@kap/inbound`: what the hospital tells the adapter. HL7 v2 over MLLP (framing, character
 * sets, ADT reading, ACKs) and FHIR Subscription notifications, read into one
 * {@link PatientEvent} model that the worker applies. Pure: no I/O.
 */
export * from './event';
export * from './mllp-framer';
export * from './hl7-text';
export * from './hl7-datatypes';
export * from './adt';
export * from './ack';
export * from './notification';
export * from './subscription';
export * from './tenant-route';
