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

const wallFormatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's offset from UTC at `ms`, in ms: the wall clock there read as if it were UTC, less the instant. */
function offsetAt(ms: number, timeZone: string): number {
  let f = wallFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    wallFormatters.set(timeZone, f);
  }
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  const wall = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
  return wall - (ms - (((ms % 1000) + 1000) % 1000));
}

/**
 * The first instant of `day` in the clinic (its local midnight, or the first moment after a
 * DST gap that skips midnight): where a date-only event such as "course started" belongs
 * among instants.
 */
export function clinicDayStart(day: ClinicDay, timeZone: string): string {
  const midnightUtc = Date.parse(`${day}T00:00:00Z`);
  if (Number.isNaN(midnightUtc) || !/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new RangeError(`not a date: ${day}`);
  // Two passes settle the offset on either side of a transition; then step to the day's first minute.
  let guess = midnightUtc - offsetAt(midnightUtc, timeZone);
  guess = midnightUtc - offsetAt(guess, timeZone);
  while (clinicDay(guess, timeZone) < day) guess += 60_000;
  while (clinicDay(guess - 60_000, timeZone) >= day) guess -= 60_000;
  return new Date(guess).toISOString();
}
