/**
 * Times as the clinic reads them. Every time on the page is in the clinic's zone (the course
 * view's `timeZone`), whatever the browser's zone: a clinician abroad or a server in UTC must
 * not shift an alert's time.
 */
export interface ClinicFormat {
  readonly zone: string;
  /** Day, month, year and time: `12 Nov 2026, 04:57`. */
  when(iso: string | null | undefined): string;
  /** A time that must not be misread (alerts): with the zone named. */
  whenNamed(iso: string | null | undefined): string;
  /** A calendar day; a date-only value (`2026-11-08`) is shown as the day it is. */
  day(iso: string): string;
  /** Hours and minutes. */
  clock(iso: string): string;
}

export function clinicFormat(zone: string): ClinicFormat {
  const when = (iso: string | null | undefined): string => {
    if (!iso) return '';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    return d.toLocaleString('en-GB', {
      day: 'numeric',
      month: 'short',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      timeZone: zone,
    });
  };
  return {
    zone,
    when,
    whenNamed: (iso) => (iso ? `${when(iso)} (${zone})` : ''),
    day: (iso) =>
      iso.length === 10
        ? new Date(`${iso}T12:00:00Z`).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' })
        : new Date(iso).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: zone }),
    clock: (iso) => new Date(iso).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', timeZone: zone }),
  };
}

/** A change with its sign, and a true minus sign: `+3`, `−11`, `0`. */
export function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n).replace('-', '−');
}

export function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
