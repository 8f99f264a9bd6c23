import { Hl7Message } from '@medplum/core';
import iconv from 'iconv-lite';

/**
 * From MLLP frame bytes to a parsed HL7 v2 message: the character set named by MSH-18
 * (HL7 table 0211), segment separators as real senders write them, and escape sequences.
 */

/** MSH-18 values (HL7 table 0211) and the decoder that reads them. */
const CHARSETS: Readonly<Record<string, string>> = {
  ASCII: 'latin1',
  'ISO IR6': 'latin1',
  '8859/1': 'iso-8859-1',
  'ISO IR100': 'iso-8859-1',
  '8859/2': 'iso-8859-2',
  'ISO IR101': 'iso-8859-2',
  '8859/3': 'iso-8859-3',
  '8859/4': 'iso-8859-4',
  '8859/5': 'iso-8859-5',
  'ISO IR144': 'iso-8859-5',
  '8859/6': 'iso-8859-6',
  'ISO IR127': 'iso-8859-6',
  '8859/7': 'iso-8859-7',
  'ISO IR126': 'iso-8859-7',
  '8859/8': 'iso-8859-8',
  'ISO IR138': 'iso-8859-8',
  '8859/9': 'iso-8859-9',
  'ISO IR148': 'iso-8859-9',
  '8859/15': 'iso-8859-15',
  'UNICODE UTF-8': 'utf8',
  UNICODE: 'utf8',
  'GB 18030-2000': 'gb18030',
  'KS X 1001': 'euc-kr',
  'BIG-5': 'big5',
};

export class Hl7ReadError extends Error {
  override name = 'Hl7ReadError';
  constructor(
    message: string,
    /** HL7 table 0357 error code for the ERR segment. */
    readonly code: string,
    /** The message's MSH fields, when they could be read, so the ACK can still answer it. */
    readonly msh?: readonly string[],
  ) {
    super(message);
  }
}

export interface DecodedHl7 {
  readonly message: Hl7Message;
  readonly text: string;
  /** The decoder used, to encode the ACK the same way. */
  readonly charset: string;
  /** MSH fields as received: index n holds MSH-n (index 1 the field separator). */
  readonly msh: readonly string[];
}

/**
 * MSH fields read from the raw bytes before decoding (they are plain ASCII in every
 * character set HL7 allows over MLLP): index n holds MSH-n. Undefined when the bytes do
 * not start with an MSH segment.
 */
export function readMshFields(bytes: Buffer): string[] | undefined {
  const start = bytes.toString('latin1', 0, Math.min(bytes.length, 4096)).replace(/^[\r\n\s]+/, '');
  if (!start.startsWith('MSH') || start.length < 8) return undefined;
  const separator = start[3] as string;
  if (/[A-Za-z0-9\r\n]/.test(separator)) return undefined;
  const first = start.split(/\r\n|\r|\n/)[0] as string;
  const parts = first.split(separator);
  // parts[0] is "MSH", parts[1] MSH-2; MSH-1 is the separator itself.
  return ['MSH', separator, ...parts.slice(1)];
}

/** The decoder for an MSH-18 value; undefined when the set is not supported. */
export function charsetFor(msh18: string | undefined, bytes: Buffer): string | undefined {
  const name = (msh18 ?? '').split(/[~^]/)[0]?.trim().toUpperCase() ?? '';
  if (!name) {
    // No MSH-18: HL7 says ASCII; in practice UTF-8 or Latin-1. Valid UTF-8 is read as such.
    return isUtf8(bytes) ? 'utf8' : 'latin1';
  }
  const charset = CHARSETS[name];
  return charset && iconv.encodingExists(charset) ? charset : undefined;
}

function isUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Decodes and parses one frame; throws {@link Hl7ReadError} with the reason when it cannot. */
export function decodeHl7(bytes: Buffer): DecodedHl7 {
  const msh = readMshFields(bytes);
  if (!msh) throw new Hl7ReadError('Not an HL7 v2 message: it does not start with an MSH segment', '100');
  const charset = charsetFor(msh[18], bytes);
  if (!charset) throw new Hl7ReadError(`Character set ${msh[18]} (MSH-18) is not supported`, '203', msh);
  const decoded = iconv.decode(bytes, charset);
  const { message, text } = parseHl7Text(decoded, msh);
  return { message, text, charset, msh };
}

/**
 * Parses decoded HL7 text: segments end in CR, though many senders use LF or CRLF and
 * some end with blank lines. Throws {@link Hl7ReadError} when it is not HL7 v2.
 */
export function parseHl7Text(decoded: string, msh?: readonly string[]): { message: Hl7Message; text: string } {
  const text = decoded
    .replace(/^[\r\n\s]+/, '')
    .split(/\r\n|\r|\n/)
    .filter((segment) => segment.trim().length > 0)
    .join('\r');
  if (!text.startsWith('MSH')) throw new Hl7ReadError('Not an HL7 v2 message: it does not start with an MSH segment', '100', msh);
  let message: Hl7Message;
  try {
    message = Hl7Message.parse(text);
  } catch (err) {
    throw new Hl7ReadError(`Unparseable HL7 v2 message: ${err instanceof Error ? err.message : String(err)}`, '102', msh);
  }
  for (const segment of message.segments) {
    if (!/^[A-Z][A-Z0-9]{2}$/.test(segment.name)) {
      throw new Hl7ReadError(`Unparseable HL7 v2 message: "${segment.name.slice(0, 10)}" is not a segment name`, '100', msh);
    }
  }
  return { message, text };
}

/** Encodes an outgoing message (the ACK) in the character set the sender used. */
export function encodeHl7(text: string, charset: string): Buffer {
  return iconv.encode(text, charset);
}

/**
 * Undoes HL7 escape sequences in a field value (`\F\`, `\S\`, `\T\`, `\R\`, `\E\`, and
 * `\Xhh..\` hex); formatting sequences such as `\.br\` become a space.
 */
export function unescapeHl7(value: string, message: Hl7Message): string {
  if (!value.includes('\\')) return value;
  const c = message.context;
  const escape = c.escapeCharacter ?? '\\';
  if (escape !== '\\') return value;
  return value.replace(/\\([^\\]*)\\/g, (_, code: string) => {
    switch (code) {
      case 'F':
        return c.fieldSeparator;
      case 'S':
        return c.componentSeparator;
      case 'T':
        return c.subcomponentSeparator;
      case 'R':
        return c.repetitionSeparator;
      case 'E':
        return escape;
      default:
        if (/^X([0-9A-Fa-f]{2})+$/.test(code)) return Buffer.from(code.slice(1), 'hex').toString('latin1');
        return ' ';
    }
  });
}
