/**
 * Integration follow-ups inside the neuroplasticity window (docs/domain.md#4-integration): each dosing
 * session schedules follow-ups at configured offsets after the session ends.
 */

/** Default offsets: within 24 h, about 72 h, and before 7 days (docs/domain.md#4-integration). */
export const DEFAULT_FOLLOW_UP_OFFSETS = 'PT24H,PT72H,P7D';

export const FOLLOW_UP_STATUSES = ['scheduled', 'completed', 'escalated', 'cancelled'] as const;
export type FollowUpStatus = (typeof FOLLOW_UP_STATUSES)[number];

const DURATION = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * Milliseconds in an ISO 8601 duration made of weeks, days, hours, minutes and seconds.
 * Years and months are refused: their length depends on the calendar, and a clinical
 * window is stated in days.
 */
export function parseDurationMs(text: string): number {
  const match = DURATION.exec(text.trim());
  if (!match || text.trim() === 'P' || text.trim().endsWith('T')) {
    throw new Error(`Not an ISO 8601 duration of weeks, days, hours, minutes or seconds: "${text}"`);
  }
  const [, w, d, h, m, s] = match;
  const num = (v: string | undefined): number => (v ? Number(v) : 0);
  const ms = ((((num(w) * 7 + num(d)) * 24 + num(h)) * 60 + num(m)) * 60 + num(s)) * 1000;
  if (ms <= 0) throw new Error(`A follow-up offset must be longer than zero: "${text}"`);
  return ms;
}

/** Parses a comma-separated list such as `PT24H,PT72H,P7D` into ascending offsets. */
export function parseFollowUpOffsets(text: string): number[] {
  const offsets = text.split(',').map((part) => parseDurationMs(part));
  return offsets.sort((a, b) => a - b);
}

export interface PlannedFollowUp {
  /** 1-based position among the session's follow-ups; part of the business key. */
  readonly sequence: number;
  readonly dueBy: Date;
}

/** The follow-ups a dosing session that ended at `sessionEnd` should schedule. */
export function planFollowUps(sessionEnd: Date, offsetsMs: readonly number[]): PlannedFollowUp[] {
  return offsetsMs.map((offset, index) => ({ sequence: index + 1, dueBy: new Date(sessionEnd.getTime() + offset) }));
}
