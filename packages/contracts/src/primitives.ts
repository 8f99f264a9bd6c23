import { z } from 'zod';

/** An instant with an explicit UTC offset, as api.md requires (`2026-03-01T09:30:00+01:00` or `...Z`). */
export const Instant = z.iso.datetime({ offset: true }).meta({
  description: 'ISO 8601 date-time with an offset',
  example: '2026-03-01T09:30:00+01:00',
});

/** A calendar date, `YYYY-MM-DD`. */
export const DateOnly = z.iso.date().meta({ description: 'ISO 8601 calendar date', example: '2026-03-01' });

/** Non-empty text with surrounding whitespace removed, bounded so one field cannot fill the body limit. */
export const Text = (max = 2000) => z.string().trim().min(1).max(max);

/** Identifiers are opaque strings (api.md). */
export const Id = z.string().min(1).max(128).meta({ description: 'Opaque identifier' });
