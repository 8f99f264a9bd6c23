/**
 * The clinic's calendar. Instants (when something happened) are stored and compared as
 * instants; but a clinician's "day" — a course's first day, "before the course started",
 * "90 days after it stopped", the screening day — is a date on the clinic's wall calendar,
 * which is not the UTC date. Every such decision asks this module, in the clinic's IANA
 * time zone (CLINIC_TIME_ZONE, per tenant).
 */

/** A calendar date, `YYYY-MM-DD`. */
export type ClinicDay = string;

const dayFormatters = new Map<string, Intl.DateTimeFormat>();

function dayFormatter(timeZone: string): Intl.DateTimeFormat {
  let f = dayFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', era: 'short' });
    dayFormatters.set(timeZone, f);
  }
  return f;
}

const toEpoch = (instant: Date | string | number): number => {
  const ms = instant instanceof Date ? instant.getTime() : typeof instant === 'number' ? instant : Date.parse(instant);
  if (Number.isNaN(ms)) throw new RangeError(`not an instant: ${String(instant)}`);
  return ms;
};

/** Whether `name` is an IANA time zone this runtime knows (`Europe/Berlin`, `UTC`); offsets like `+01:00` are not zones. */
export function isClinicTimeZone(name: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** The day on the clinic's calendar at which `instant` falls. */
export function clinicDay(instant: Date | string | number, timeZone: string): ClinicDay {
  const parts = dayFormatter(timeZone).formatToParts(new Date(toEpoch(instant)));
  const get = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? '';
  // Dates here are within 1900..2200 (contracts' DATE_RANGE); BC years never reach this.
  return `${get('year').padStart(4, '0')}-${get('month')}-${get('day')}`;
}

/** `day` moved by `days` calendar days (negative: back). */
export function addDays(day: ClinicDay, days: number): ClinicDay {
  const ms = Date.parse(`${day}T00:00:00Z`);
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new RangeError(`not a date: ${day}`);
  return new Date(ms + days * 86_400_000).toISOString().slice(0, 10);
}

const timeFormatters = new Map<string, Intl.DateTimeFormat>();

/**
 * An instant as the clinic reads it, naming the zone whatever zone the reader is in:
 * `2026-12-07 00:15 (Europe/Berlin)`. ISO-like order, 24-hour clock, so it reads the same
 * in every locale and sorts as text.
 */
export function formatClinicTime(instant: Date | string | number, timeZone: string): string {
  let f = timeFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    timeFormatters.set(timeZone, f);
  }
  const at = new Date(toEpoch(instant));
  const parts = f.formatToParts(at);
  const get = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? '';
  return `${clinicDay(at, timeZone)} ${get('hour')}:${get('minute')} (${timeZone})`;
}
