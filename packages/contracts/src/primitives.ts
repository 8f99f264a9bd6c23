import { z } from 'zod';

/*
 * What FHIR R4 itself accepts (http://hl7.org/fhir/R4/datatypes.html#primitive): a year
 * from 0001, an offset within ±14:00, and strings without control characters. Stricter
 * than ISO 8601 alone, so input the EHR would refuse is a 400 here, never a 500 later.
 */
const FHIR_YEAR = /^(?!0000)\d{4}-/;
const FHIR_OFFSET = /(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00))$/;
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

/** An instant with an explicit UTC offset, as api.md requires (`2026-03-01T09:30:00+01:00` or `...Z`). */
export const Instant = z.iso
  .datetime({ offset: true })
  .refine((v) => FHIR_YEAR.test(v), 'year must be 0001 or later')
  .refine((v) => FHIR_OFFSET.test(v), 'offset must be Z or within ±14:00')
  .meta({
  description: 'ISO 8601 date-time with an offset',
  example: '2026-03-01T09:30:00+01:00',
});

/** A calendar date, `YYYY-MM-DD`. */
export const DateOnly = z.iso.date().refine((v) => FHIR_YEAR.test(v), 'year must be 0001 or later').meta({ description: 'ISO 8601 calendar date', example: '2026-03-01' });

/** Non-empty text with surrounding whitespace removed, bounded so one field cannot fill the body limit. */
export const Text = (max = 2000) =>
  z.string().trim().min(1).max(max).refine((v) => !CONTROL_CHARACTERS.test(v), 'must not contain control characters');

/** Identifiers are opaque strings (api.md). */
export const Id = z.string().min(1).max(128).meta({ description: 'Opaque identifier' });
