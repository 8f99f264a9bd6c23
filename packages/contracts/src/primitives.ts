import { z } from 'zod';

/*
 * The primitives every request body is built from. Each one refuses, at the edge and as a
 * 400 naming the field, what FHIR R4 (http://hl7.org/fhir/R4/datatypes.html#primitive) or
 * PostgreSQL would refuse later: so a new endpoint that uses them cannot turn hostile
 * input into a 500.
 */

/** A UTF-16 surrogate without its partner: not Unicode, so neither JSON text in PostgreSQL nor FHIR accepts it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** C0 controls other than tab, line feed and carriage return, DEL, and the noncharacters U+FFFE/U+FFFF. */
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFE\uFFFF]/;
/** In a one-line value (an id, a code, an identifier) no line break or tab either. */
const LINE_CONTROL_CHARACTERS = /[\u0000-\u001F\u007F-\u009F\uFFFE\uFFFF]/;

/** Why `value` is not FHIR-safe text, or undefined when it is. */
export function unsafeTextReason(value: string, oneLine = false): string | undefined {
  if (LONE_SURROGATE.test(value)) return 'must be valid Unicode (a lone surrogate is not)';
  if ((oneLine ? LINE_CONTROL_CHARACTERS : CONTROL_CHARACTERS).test(value)) return 'must not contain control characters';
  return undefined;
}

const fhirSafe = (oneLine: boolean) => (value: string, ctx: z.RefinementCtx) => {
  const reason = unsafeTextReason(value, oneLine);
  if (reason) ctx.addIssue({ code: 'custom', message: reason });
};

/**
 * Every date this service stores or derives from input (a follow-up falls due up to 14 days
 * after a session ends) fits inside this range, far inside what PostgreSQL and FHIR accept,
 * so a far-future or far-past input is a 400 on the field that gave it.
 */
export const DATE_RANGE = { earliest: '1900-01-01', latest: '2099-12-31' } as const;
/** How far ahead of this server's clock a time may be and still count as "now" (clocks drift). */
export const CLOCK_SKEW_MS = 5 * 60_000;

const FHIR_OFFSET = /(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00))$/;

/** True when the `YYYY-MM-DD` prefix names a real calendar day (no 30 February). */
/*
 * zod runs every refinement even after the format check failed, so each one below must
 * take any string: one that is not a time is left to the format check (found by fuzzing
 * as a 500: `2026-11-28T2\uFFFF2:21:47Z`).
 */
const realDay = (v: string): boolean => {
  const day = v.slice(0, 10);
  const date = new Date(`${day}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === day;
};
const inRange = (v: string): boolean => {
  const at = Date.parse(v);
  if (Number.isNaN(at)) return true;
  const day = new Date(at).toISOString().slice(0, 10);
  return (
    v.slice(0, 10) >= DATE_RANGE.earliest && v.slice(0, 10) <= DATE_RANGE.latest && day >= DATE_RANGE.earliest && day <= DATE_RANGE.latest
  );
};
const RANGE_MESSAGE = `must be between ${DATE_RANGE.earliest} and ${DATE_RANGE.latest}`;

/** An instant with an explicit UTC offset, as docs/api.md#conventions requires (`2026-03-01T09:30:00+01:00` or `...Z`). */
export const Instant = z.iso
  .datetime({ offset: true })
  .refine(realDay, 'must be a real calendar date')
  .refine((v) => FHIR_OFFSET.test(v), 'offset must be Z or within ±14:00')
  .refine((v) => !realDay(v) || inRange(v), RANGE_MESSAGE)
  .meta({
    description: `ISO 8601 date-time with an offset, between ${DATE_RANGE.earliest} and ${DATE_RANGE.latest}`,
    example: '2026-03-01T09:30:00+01:00',
  });

/**
 * An instant that has happened: something measured, given or said. A time later than now
 * (beyond CLOCK_SKEW_MS) is a typo or a wrong offset, and would put the record out of order.
 */
export const PastInstant = Instant.refine((v) => !(Date.parse(v) > Date.now() + CLOCK_SKEW_MS), 'must not be in the future').meta({
  description: 'ISO 8601 date-time with an offset, not in the future',
  example: '2026-03-01T09:30:00+01:00',
});

/** A calendar date, `YYYY-MM-DD`. */
export const DateOnly = z.iso
  .date()
  .refine(realDay, 'must be a real calendar date')
  .refine((v) => v >= DATE_RANGE.earliest && v <= DATE_RANGE.latest, RANGE_MESSAGE)
  .meta({ description: `ISO 8601 calendar date between ${DATE_RANGE.earliest} and ${DATE_RANGE.latest}`, example: '2026-03-01' });

/** A date that has been: a birth date. "Today" is taken in the zone furthest ahead (UTC+14). */
export const PastDate = DateOnly.refine(
  (v) => v <= new Date(Date.now() + 14 * 3600_000).toISOString().slice(0, 10),
  'must not be in the future',
).meta({ description: 'ISO 8601 calendar date, not in the future', example: '1950-04-02' });

/**
 * Free text: trimmed, non-empty, bounded (so one field cannot fill the body limit), and
 * FHIR-safe: valid Unicode without control characters (tab and line breaks are allowed).
 */
export const Text = (max = 2000) => z.string().trim().min(1).max(max).superRefine(fhirSafe(false));

/** One-line text such as an identifier value: FHIR-safe, no line breaks or tabs either. */
export const Token = (max = 128) => z.string().trim().min(1).max(max).superRefine(fhirSafe(true));

/** Identifiers are opaque strings (docs/api.md#conventions), but one-line FHIR-safe text. */
export const Id = z.string().min(1).max(128).superRefine(fhirSafe(true)).meta({ description: 'Opaque identifier' });

const OID = /^urn:oid:[0-2](\.(0|[1-9]\d*))+$/;
const UUID = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Why `value` is not an absolute identifier-system URI FHIR would accept, or undefined. */
export function identifierSystemReason(value: string): string | undefined {
  if (unsafeTextReason(value, true) || /\s/.test(value)) return 'must be a URI without spaces or control characters';
  if (value.startsWith('urn:oid:'))
    return OID.test(value) ? undefined : 'must be urn:oid: followed by a dotted OID such as 2.16.840.1.113883.19.5';
  if (value.startsWith('urn:uuid:')) return UUID.test(value) ? undefined : 'must be urn:uuid: followed by a lowercase UUID';
  if (/^https?:\/\//i.test(value)) {
    try {
      const url = new URL(value);
      if (!url.hostname) return 'must name a host';
      return undefined;
    } catch {
      return 'must be a valid http(s) URL';
    }
  }
  return 'must be an absolute URI: urn:oid:, urn:uuid:, http:// or https://';
}

/** The namespace of an identifier (http://hl7.org/fhir/R4/datatypes.html#Identifier): an absolute URI. */
export const IdentifierSystem = z
  .string()
  .min(1)
  .max(512)
  .superRefine((value, ctx) => {
    const reason = identifierSystemReason(value);
    if (reason) ctx.addIssue({ code: 'custom', message: reason });
  })
  .meta({ description: 'Identifier system: urn:oid:, urn:uuid: or an http(s) URL', example: 'urn:oid:2.16.840.1.113883.19.5.99999.1' });
