import fc from 'fast-check';
import { addDays, clinicDay, clinicDayStart, formatClinicTime, isClinicTimeZone } from './clinic-time';

const ZONES = ['America/Los_Angeles', 'Europe/Berlin', 'Australia/Lord_Howe', 'Pacific/Kiritimati', 'UTC'] as const;
const SEED = 20261207;
const FROM = Date.UTC(2000, 0, 1);
const TO = Date.UTC(2060, 0, 1);

/**
 * The independent computation: the zone's UTC offset at the instant (Intl's `longOffset`
 * name, e.g. `GMT+10:30`), added to the instant, read as a UTC date. Offset arithmetic,
 * not the calendar fields the module reads.
 */
const offsetFormatters = new Map<string, Intl.DateTimeFormat>();
function offsetMinutes(ms: number, timeZone: string): number {
  let f = offsetFormatters.get(timeZone);
  if (!f) offsetFormatters.set(timeZone, (f = new Intl.DateTimeFormat('en-GB', { timeZone, timeZoneName: 'longOffset' })));
  const name = f.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /^GMT(?:([+-])(\d{2}):(\d{2}))?$/.exec(name);
  if (!m) throw new Error(`unexpected offset ${name}`);
  return m[1] ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
}
const expectedDay = (ms: number, timeZone: string): string =>
  new Date(ms + offsetMinutes(ms, timeZone) * 60_000).toISOString().slice(0, 10);

/** The instants (to the minute) at which a zone's offset changes in a year: its DST transitions. */
function transitions(timeZone: string, year: number): number[] {
  const out: number[] = [];
  const start = Date.UTC(year, 0, 1);
  const end = Date.UTC(year + 1, 0, 1);
  let prev = offsetMinutes(start, timeZone);
  for (let t = start + 3_600_000; t <= end; t += 3_600_000) {
    const now = offsetMinutes(t, timeZone);
    if (now !== prev) {
      let lo = t - 3_600_000;
      let hi = t;
      while (hi - lo > 60_000) {
        const mid = lo + Math.floor((hi - lo) / 120_000) * 60_000;
        if (offsetMinutes(mid, timeZone) === prev) lo = mid;
        else hi = mid;
      }
      out.push(hi);
      prev = now;
    }
  }
  return out;
}

describe('clinicDay: the day an instant falls on in the clinic', () => {
  it('agrees with the zone offset at any instant, in every zone', () => {
    fc.assert(
      fc.property(fc.integer({ min: FROM, max: TO }), fc.constantFrom(...ZONES), (ms, zone) => {
        expect(clinicDay(ms, zone)).toBe(expectedDay(ms, zone));
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it("agrees around every DST transition (minutes either side), including Lord Howe's half hour", () => {
    const found = ZONES.flatMap((zone) => [2024, 2026, 2031].flatMap((y) => transitions(zone, y).map((t) => ({ zone, t }))));
    // Kiritimati and UTC keep one offset; the other three change twice a year.
    expect(found.filter((f) => f.zone === 'Australia/Lord_Howe')).toHaveLength(6);
    expect(found.filter((f) => f.zone === 'Pacific/Kiritimati')).toHaveLength(0);
    fc.assert(
      fc.property(fc.constantFrom(...found), fc.integer({ min: -26 * 60, max: 26 * 60 }), ({ zone, t }, minutes) => {
        const ms = t + minutes * 60_000;
        expect(clinicDay(ms, zone)).toBe(expectedDay(ms, zone));
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('agrees around local midnight', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: FROM / 86_400_000, max: TO / 86_400_000 }),
        fc.constantFrom(...ZONES),
        fc.integer({ min: -90, max: 90 }),
        (d, zone, minutes) => {
          // Near the zone's midnight of that UTC day (offset at that moment; any DST skew only moves it).
          const approx = d * 86_400_000 - offsetMinutes(d * 86_400_000, zone) * 60_000 + minutes * 60_000;
          expect(clinicDay(approx, zone)).toBe(expectedDay(approx, zone));
        },
      ),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('never goes back as time goes forward', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: FROM, max: TO }),
        fc.integer({ min: 0, max: 3 * 86_400_000 }),
        fc.constantFrom(...ZONES),
        (a, delta, zone) => {
          expect(clinicDay(a, zone) <= clinicDay(a + delta, zone)).toBe(true);
        },
      ),
      { seed: SEED },
    );
  });

  it('is a day ahead of UTC in Kiritimati and behind it in Los Angeles at the same instant', () => {
    const at = '2026-12-07T00:30:00Z';
    expect(clinicDay(at, 'UTC')).toBe('2026-12-07');
    expect(clinicDay(at, 'America/Los_Angeles')).toBe('2026-12-06');
    expect(clinicDay('2026-12-07T10:30:00Z', 'Pacific/Kiritimati')).toBe('2026-12-08');
    expect(clinicDay('2026-12-06T22:46:00-08:00', 'America/Los_Angeles')).toBe('2026-12-06');
  });
});

describe('clinicDayStart: where a day begins in the clinic', () => {
  it('is the first minute of that day there, across zones and DST', () => {
    fc.assert(
      fc.property(fc.integer({ min: FROM / 86_400_000, max: TO / 86_400_000 }), fc.constantFrom(...ZONES), (d, zone) => {
        const day = new Date(d * 86_400_000).toISOString().slice(0, 10);
        const start = Date.parse(clinicDayStart(day, zone));
        expect(expectedDay(start, zone)).toBe(day);
        expect(expectedDay(start - 60_000, zone) < day).toBe(true);
      }),
      { seed: SEED, numRuns: 1500 },
    );
  });
  it('puts a course that started on 7 December before a session at 00:10 that day in Kiritimati', () => {
    expect(clinicDayStart('2026-12-07', 'Pacific/Kiritimati')).toBe('2026-12-06T10:00:00.000Z');
    expect(clinicDayStart('2026-12-07', 'America/Los_Angeles')).toBe('2026-12-07T08:00:00.000Z');
  });
});

describe('addDays', () => {
  it('moves across month, year and leap-day boundaries', () => {
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
    expect(addDays('2026-01-01', 90)).toBe('2026-04-01');
  });
});

describe('formatClinicTime', () => {
  it("names the zone and shows the clinic's wall clock, whatever the reader's zone", () => {
    expect(formatClinicTime('2026-12-06T23:15:00Z', 'Europe/Berlin')).toBe('2026-12-07 00:15 (Europe/Berlin)');
    expect(formatClinicTime('2026-12-07T06:46:00Z', 'America/Los_Angeles')).toBe('2026-12-06 22:46 (America/Los_Angeles)');
    // Lord Howe's DST ends at 02:00 local by going back half an hour: 01:45 happens twice.
    expect(formatClinicTime('2026-04-04T14:45:00Z', 'Australia/Lord_Howe')).toBe('2026-04-05 01:45 (Australia/Lord_Howe)');
    expect(formatClinicTime('2026-04-04T15:15:00Z', 'Australia/Lord_Howe')).toBe('2026-04-05 01:45 (Australia/Lord_Howe)');
  });
  it('agrees with clinicDay for every instant', () => {
    fc.assert(
      fc.property(fc.integer({ min: FROM, max: TO }), fc.constantFrom(...ZONES), (ms, zone) => {
        expect(formatClinicTime(ms, zone).startsWith(clinicDay(ms, zone))).toBe(true);
      }),
      { seed: SEED },
    );
  });
});

describe('isClinicTimeZone', () => {
  it('takes IANA names and refuses offsets and unknown names', () => {
    for (const z of ZONES) expect(isClinicTimeZone(z)).toBe(true);
    for (const z of ['+01:00', 'GMT+1', 'Mars/Olympus', '', 'Europe/Berlin; DROP']) expect(isClinicTimeZone(z)).toBe(false);
  });
});
