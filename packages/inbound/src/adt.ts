import type { Hl7Message, Hl7Segment } from '@medplum/core';
import type { CourseEnd, InboundSettings, PatientEvent } from './event';
import { cxIdentifiers, hl7Date, hl7DateTime, hl7Gender, xpnNames } from './hl7-datatypes';

/**
 * Reads an ADT message into patient events (docs/api.md#inbound-events-from-the-ehr):
 * A01, A03, A04, A08 and A40 are handled; any other message is acknowledged and ignored.
 */

export const HANDLED_ADT_EVENTS = ['A01', 'A03', 'A04', 'A08', 'A40'] as const;

/** UB-04 discharge status 20, "expired": the patient died (docs/domain.md#5c-events-from-the-hospital). */
export const DISPOSITION_EXPIRED = '20';

/** The message header, as the ACK and the store need it. */
export interface Hl7Header {
  /** MSH-3 and MSH-4, the idempotency scope of MSH-10. */
  readonly sender: string;
  readonly controlId: string;
  /** MSH-9.1 and MSH-9.2, e.g. `ADT` and `A03`. */
  readonly messageCode: string;
  readonly triggerEvent: string;
  readonly version: string;
}

/** A problem for the ERR segment: HL7 table 0357 code, text, and where (segment, field). */
export interface Hl7Problem {
  readonly code: string;
  readonly text: string;
  readonly segment?: string;
  readonly field?: number;
}

export type AdtReading =
  | {
      readonly outcome: 'accepted';
      readonly header: Hl7Header;
      readonly events: readonly PatientEvent[];
      /** A problem that does not stop the message (an unmapped assigning authority): AA with an ERR warning. */
      readonly warning?: Hl7Problem;
    }
  | { readonly outcome: 'ignored'; readonly header: Hl7Header; readonly why: string }
  | { readonly outcome: 'rejected'; readonly header: Hl7Header; readonly ack: 'AE' | 'AR'; readonly problem: Hl7Problem };

/** The header fields of a parsed message; MSH-n is `getField(n)`. */
export function readHeader(message: Hl7Message): Hl7Header {
  const msh = message.header;
  const text = (n: number, component?: number): string =>
    (component ? msh.getComponent(n, component) : (msh.getField(n)?.toString() ?? '')).trim();
  return {
    sender: `${text(3)}|${text(4)}`,
    controlId: text(10),
    messageCode: text(9, 1).toUpperCase(),
    triggerEvent: text(9, 2).toUpperCase(),
    version: text(12, 1),
  };
}

/** Reads one message; pure, so the listener (to answer) and the worker (to apply) agree. */
export function readAdt(message: Hl7Message, settings: InboundSettings): AdtReading {
  const header = readHeader(message);
  const reject = (ack: 'AE' | 'AR', problem: Hl7Problem): AdtReading => ({ outcome: 'rejected', header, ack, problem });
  if (!header.controlId) return reject('AR', { code: '101', text: 'MSH-10 (message control id) is missing', segment: 'MSH', field: 10 });
  if (!header.messageCode) return reject('AR', { code: '101', text: 'MSH-9 (message type) is missing', segment: 'MSH', field: 9 });
  if (!/^2\.\d/.test(header.version)) {
    return reject('AR', { code: '203', text: `Version ${header.version || '(none)'} (MSH-12) is not HL7 v2`, segment: 'MSH', field: 12 });
  }
  if (header.messageCode !== 'ADT') return { outcome: 'ignored', header, why: `${header.messageCode} messages are not used` };
  const trigger = header.triggerEvent;
  if (!(HANDLED_ADT_EVENTS as readonly string[]).includes(trigger)) {
    return { outcome: 'ignored', header, why: `ADT ${trigger || '(no event)'} is not used` };
  }

  const pids = message.getAllSegments('PID');
  if (pids.length === 0) return reject('AE', { code: '100', text: 'PID segment is missing', segment: 'PID' });
  const events: PatientEvent[] = [];
  let warning: Hl7Problem | undefined;
  if (trigger === 'A40') {
    // ADT_A39: one PATIENT group (PID, PD1, MRG, PV1) per merge, in order.
    for (const [i, pid] of pids.entries()) {
      const mrg = segmentAfter(message, pid, 'MRG');
      if (!mrg) return reject('AE', { code: '100', text: `MRG segment missing after PID ${i + 1}`, segment: 'MRG' });
      const survivor = identifiersOf(message, pid, 3, settings);
      if ('problem' in survivor) return reject('AE', survivor.problem);
      const merged = identifiersOf(message, mrg, 1, settings, 'MRG');
      if ('problem' in merged) return reject('AE', merged.problem);
      warning ??= survivor.warning ?? merged.warning;
      events.push({ identifiers: survivor.identifiers, mergedIdentifiers: merged.identifiers });
    }
    return { outcome: 'accepted', header, events, ...(warning ? { warning } : {}) };
  }

  const pid = pids[0] as Hl7Segment;
  const who = identifiersOf(message, pid, 3, settings);
  if ('problem' in who) return reject('AE', who.problem);
  warning = who.warning;
  const pv1 = message.getSegment('PV1');
  const disposition = pv1?.getComponent(36, 1).trim() ?? '';
  const deathDate = pid.getField(29)?.getComponent(1).trim() ?? '';
  const deathIndicator = pid.getField(30)?.toString().trim().toUpperCase() ?? '';
  let courseEnd: CourseEnd | undefined;
  let endReason: string | undefined;
  if (deathIndicator === 'Y' || deathDate) {
    courseEnd = 'deceased';
    endReason = `The hospital reported the patient's death (ADT ${trigger}).`;
  } else if (trigger === 'A03' && disposition === DISPOSITION_EXPIRED) {
    courseEnd = 'deceased';
    endReason = `The hospital reported the patient's death at discharge (ADT A03, disposition ${DISPOSITION_EXPIRED} expired).`;
  } else if (trigger === 'A03' && disposition && settings.dischargeStopCodes.has(disposition)) {
    courseEnd = 'discharged';
    endReason = `The hospital discharged the patient with disposition ${disposition} (ADT A03).`;
  }
  const deceasedAt = deathDate ? hl7DateTime(deathDate) : undefined;

  let demographics: PatientEvent['demographics'];
  if (trigger === 'A08') {
    const name = xpnNames(pid.getField(5), message);
    const birthDate = hl7Date(pid.getField(7)?.getComponent(1) ?? '');
    const gender = hl7Gender(pid.getField(8)?.toString() ?? '');
    demographics = { ...(name.length > 0 ? { name } : {}), ...(birthDate ? { birthDate } : {}), ...(gender ? { gender } : {}) };
  }
  events.push({
    identifiers: who.identifiers,
    ...(courseEnd ? { courseEnd, endReason } : {}),
    ...(deceasedAt ? { deceasedAt } : {}),
    ...(demographics ? { demographics } : {}),
  });
  return { outcome: 'accepted', header, events, ...(warning ? { warning } : {}) };
}

function identifiersOf(
  message: Hl7Message,
  segment: Hl7Segment,
  field: number,
  settings: InboundSettings,
  name = 'PID',
): { identifiers: PatientEvent['identifiers']; warning?: Hl7Problem } | { problem: Hl7Problem } {
  const { identifiers, unmapped } = cxIdentifiers(segment.getField(field), message, settings.assigningAuthorities);
  if (identifiers.length > 0) return { identifiers };
  if (unmapped.length === 0)
    return { problem: { code: '101', text: `${name}-${field} (patient identifier) is missing`, segment: name, field } };
  // No identifier the site can map: no patient of ours can match, as for an unknown patient (AA),
  // but the ACK warns, so a missing HL7_ASSIGNING_AUTHORITIES entry does not go unnoticed.
  return {
    identifiers: [],
    warning: {
      code: '103',
      text: `${name}-${field} assigning authority ${unmapped.join(', ')} is not mapped (HL7_ASSIGNING_AUTHORITIES); no patient matched`,
      segment: name,
      field,
    },
  };
}

/** The first `name` segment after `from` and before the next PID (one ADT_A39 PATIENT group). */
function segmentAfter(message: Hl7Message, from: Hl7Segment, name: string): Hl7Segment | undefined {
  const start = message.segments.indexOf(from);
  for (const segment of message.segments.slice(start + 1)) {
    if (segment.name === 'PID') return undefined;
    if (segment.name === name) return segment;
  }
  return undefined;
}
