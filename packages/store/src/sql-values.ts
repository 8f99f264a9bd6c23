/**
 * Conversions at the SQL boundary, in one place because the two engines differ: pg returns
 * int8 as a string and PGlite as a number, and pg would turn a JS array parameter into a
 * PostgreSQL array where we want jsonb. Timestamps leave the store as ISO 8601 UTC strings.
 */

/** A JSON value, for jsonb columns. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** An instant as callers give it: an ISO 8601 string with an offset, or a Date. */
export type Instant = string | Date;

/** Serialises a value for a `$n::jsonb` parameter. */
export function jsonParam(value: unknown): string {
  return JSON.stringify(value);
}

/** Normalises an instant parameter to ISO 8601 UTC, rejecting text that is not a time. */
export function instantParam(value: Instant): string {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw new Error(`Not a valid instant: "${String(value)}"`);
  return date.toISOString();
}

/** A timestamptz column as ISO 8601 UTC. */
export function isoFrom(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return new Date(value).toISOString();
  throw new Error(`Expected a timestamp, got ${typeof value}`);
}

/** A nullable timestamptz column as ISO 8601 UTC or null. */
export function isoOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : isoFrom(value);
}

/** An integer column of any width as a number. */
export function numberFrom(value: unknown): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`Expected a number, got ${String(value)}`);
  return n;
}

/** A nullable text column. */
export function textOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}
