import { Hl7Message } from '@medplum/core';
import type { Hl7Problem } from './adt';
import { unescapeHl7 } from './hl7-text';

/**
 * The acknowledgment (original mode, HL7 v2 chapter 2): `AA` accepted, `AE` an error in
 * the content, `AR` rejected (unreadable, unsupported). MSA-2 echoes the message's MSH-10;
 * a problem is named in MSA-3 and an ERR segment, laid out for the message's version.
 */

export type AckCode = 'AA' | 'AE' | 'AR';

export interface AckInput {
  /** The received MSH fields (index n = MSH-n) as far as they could be read; empty for garbage. */
  readonly msh: readonly string[];
  readonly code: AckCode;
  readonly problem?: Hl7Problem;
  /** A short note for MSA-3 on success. */
  readonly note?: string;
  readonly now: Date;
  /** This ACK's own MSH-10. */
  readonly ackControlId: string;
}

/** HL7 table 0357 texts for the codes the listener uses. */
const ERROR_TEXT: Readonly<Record<string, string>> = {
  '100': 'Segment sequence error',
  '101': 'Required field missing',
  '102': 'Data type error',
  '103': 'Table value not found',
  '200': 'Unsupported message type',
  '203': 'Unsupported version id',
  '207': 'Application internal error',
};

/** The ACK as HL7 text, segments separated by CR, with the standard delimiters `|^~\&`. */
export function buildAck(input: AckInput): string {
  const f = (n: number): string => sanitizeField(input.msh[n] ?? '');
  const version = f(12).split('^')[0] || '2.5.1';
  const trigger = f(9).split('^')[1] ?? '';
  const msh = [
    'MSH',
    '^~\\&',
    f(5) || 'KAP',
    f(6) || 'KAP',
    f(3),
    f(4),
    hl7Timestamp(input.now),
    '',
    trigger ? `ACK^${trigger}^ACK` : 'ACK',
    input.ackControlId,
    f(11) || 'P',
    version,
    '',
    '',
    '',
    '',
    '',
    f(18),
  ];
  // Up to MSH-12 always; empty fields after it are left off.
  while (msh.length > 12 && msh[msh.length - 1] === '') msh.pop();
  const text = input.problem ? input.problem.text : (input.note ?? '');
  const segments = [msh.join('|'), ['MSA', input.code, f(10), escapeHl7(text).slice(0, 80)].join('|').replace(/\|+$/, '')];
  if (input.problem) segments.push(errSegment(input.problem, version, input.code));
  return segments.join('\r');
}

function errSegment(problem: Hl7Problem, version: string, code: AckCode): string {
  const codeText = ERROR_TEXT[problem.code] ?? 'Application error';
  const location = problem.segment ? [problem.segment, '1', problem.field ? String(problem.field) : ''].join('^').replace(/\^+$/, '') : '';
  const [major, minor] = version.split('.').map(Number);
  if ((major ?? 2) === 2 && (minor ?? 5) < 5) {
    // Up to 2.4: ERR-1 is ELD, segment^sequence^field^code (a CE: code&text&table).
    return `ERR|${[problem.segment ?? '', problem.segment ? '1' : '', problem.field ?? '', `${problem.code}&${codeText}&HL70357`].join('^')}`;
  }
  // From 2.5: ERR-2 location, ERR-3 code (CWE), ERR-4 severity, ERR-8 user message.
  const severity = code === 'AA' ? 'W' : 'E';
  return ['ERR', '', location, `${problem.code}^${codeText}^HL70357`, severity, '', '', '', escapeHl7(problem.text)].join('|');
}

/** `YYYYMMDDHHMMSS+0000`, UTC. */
export function hl7Timestamp(at: Date): string {
  return `${at.toISOString().replace(/[-:T]/g, '').slice(0, 14)}+0000`;
}

/** Escapes the standard delimiters in free text. */
export function escapeHl7(text: string): string {
  return text.replace(/[\\|^~&\r\n]/g, (c) =>
    c === '\\' ? '\\E\\' : c === '|' ? '\\F\\' : c === '^' ? '\\S\\' : c === '~' ? '\\R\\' : c === '&' ? '\\T\\' : ' ',
  );
}

/** A received field copied into the ACK: kept as is, but never able to break its framing. */
function sanitizeField(value: string): string {
  return value.replace(/[\r\n\x0b\x1c|]/g, '').slice(0, 227);
}

/** An acknowledgment as read from a receiver (our HL7 v2 out). */
export interface ReadAck {
  /** MSA-1: AA, AE, AR (or CA, CE, CR in enhanced mode). */
  readonly code: string;
  /** MSA-2: the MSH-10 it acknowledges. */
  readonly controlId: string;
  /** MSA-3 and the ERR segments' text, as the receiver wrote them (unescaped). */
  readonly text: string;
}

/** MSA and ERR of an ACK, or undefined when the frame is no ACK. */
export function readAck(frame: string): ReadAck | undefined {
  let message: Hl7Message;
  try {
    message = Hl7Message.parse(frame);
  } catch {
    return undefined;
  }
  const msa = message.getSegment('MSA');
  if (!msa) return undefined;
  const errors = message.getAllSegments('ERR').map((err) => {
    // v2.5+: ERR-8 user message, else ERR-3's text; up to 2.4: ERR-1's code text.
    const parts = [err.getField(8)?.toString(), err.getComponent(3, 2), err.getComponent(1, 4)];
    return parts.map((p) => unescapeHl7(p ?? '', message)).find((p) => p.trim() !== '') ?? '';
  });
  const text = [unescapeHl7(msa.getField(3)?.toString() ?? '', message), ...errors].filter((t) => t.trim() !== '').join('; ');
  return { code: msa.getField(1)?.toString() ?? '', controlId: msa.getField(2)?.toString() ?? '', text };
}
