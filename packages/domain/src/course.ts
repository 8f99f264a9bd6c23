/**
 * The KAP palliative course (docs/domain.md#1-the-course-of-care): preparation, two dosing sessions (low then
 * moderate) each followed by integration, a goals-of-care discussion, and an optional
 * medication review. This module holds the order rules; storage and FHIR live elsewhere.
 */
import { clinicDay } from './clinic-time';

/** The activities of the course, in the order the PlanDefinition lists them. */
export const COURSE_ACTIVITIES = [
  'preparation',
  'dosing-session-1',
  'dosing-session-2',
  'integration',
  'goals-of-care',
  'medication-review',
] as const;
export type CourseActivity = (typeof COURSE_ACTIVITIES)[number];

export const DOSE_LEVELS = ['low', 'moderate', 'high'] as const;
export type DoseLevel = (typeof DOSE_LEVELS)[number];

/** How a clinician reads each dose level (the course page's badges). */
export const DOSE_LEVEL_LABEL: Readonly<Record<DoseLevel, string>> = { low: 'Low dose', moderate: 'Moderate dose', high: 'High dose' };

/** The dose level each session of this model plans (000: session 1 low, session 2 moderate). */
export const PLANNED_DOSE_LEVEL: Readonly<Record<1 | 2, DoseLevel>> = { 1: 'low', 2: 'moderate' };

export const STOP_REASONS = ['completed', 'withdrawn', 'deceased', 'discharged'] as const;
export type StopReason = (typeof STOP_REASONS)[number];

/** A stopped course's status as the course page states it, one per reason. */
export const STOP_REASON_LABEL: Readonly<Record<StopReason, string>> = {
  completed: 'Course completed',
  withdrawn: 'Stopped: the patient withdrew',
  deceased: 'Stopped: the patient died',
  discharged: 'Stopped: discharged to care that does not continue the course',
};

/** Where a course stands, derived from what has been recorded. */
export const COURSE_PHASES = ['preparation', 'integration-1', 'integration-2', 'goals-of-care-done', 'stopped'] as const;
export type CoursePhase = (typeof COURSE_PHASES)[number];

/** Each phase as the course page names it. */
export const COURSE_PHASE_LABEL: Readonly<Record<CoursePhase, string>> = {
  preparation: 'Preparation',
  'integration-1': 'Integration after session 1',
  'integration-2': 'Integration after session 2',
  'goals-of-care-done': 'Goals of care discussed',
  stopped: 'Stopped',
};

export interface CourseFacts {
  readonly sessionsRecorded: readonly number[];
  readonly goalsOfCareRecorded: boolean;
  readonly stoppedReason?: StopReason | null;
}

export function phaseOf(facts: CourseFacts): CoursePhase {
  if (facts.stoppedReason) return 'stopped';
  if (facts.goalsOfCareRecorded && facts.sessionsRecorded.includes(2)) return 'goals-of-care-done';
  if (facts.sessionsRecorded.includes(2)) return 'integration-2';
  if (facts.sessionsRecorded.includes(1)) return 'integration-1';
  return 'preparation';
}

/** A workflow rule that forbids an action now; the API answers 409 with its text. */
export interface RuleViolation {
  readonly code: 'course-stopped' | 'session-order' | 'session-recorded' | 'screening-not-eligible' | 'course-not-started';
  readonly text: string;
}

/**
 * A record dated before the course's first day (on the clinic's calendar) belongs to no
 * course: refused, naming the day it fell on in the clinic so the caller sees why.
 */
export function checkNotBeforeCourse(startDate: string, at: string, timeZone: string, field: string): RuleViolation | undefined {
  const day = clinicDay(at, timeZone);
  if (day >= startDate) return undefined;
  return {
    code: 'course-not-started',
    text: `${field} is before the course started: ${at} is ${day} in the clinic's time zone (${timeZone}), the course starts on ${startDate}`,
  };
}

export function checkCourseActive(facts: CourseFacts): RuleViolation | undefined {
  if (facts.stoppedReason) {
    return { code: 'course-stopped', text: `The course was stopped (${facts.stoppedReason}); nothing more can be recorded` };
  }
  return undefined;
}

/** Session 2 only after session 1; each session once; nothing after the course stops. */
export function checkDosingSession(facts: CourseFacts, sessionNumber: 1 | 2): RuleViolation | undefined {
  const stopped = checkCourseActive(facts);
  if (stopped) return stopped;
  if (facts.sessionsRecorded.includes(sessionNumber)) {
    return { code: 'session-recorded', text: `Dosing session ${sessionNumber} is already recorded for this course` };
  }
  if (sessionNumber === 2 && !facts.sessionsRecorded.includes(1)) {
    return { code: 'session-order', text: 'Dosing session 2 needs dosing session 1 first' };
  }
  return undefined;
}

/** A course starts only from an eligible screening or one a clinician approved on review. */
export function checkCourseStart(
  outcome: 'eligible' | 'needs-review' | 'contraindicated',
  reviewDecision: 'approved' | 'declined' | null | undefined,
): RuleViolation | undefined {
  if (outcome === 'eligible' || (outcome === 'needs-review' && reviewDecision === 'approved')) return undefined;
  const why =
    outcome === 'contraindicated'
      ? 'the screening found an absolute contraindication'
      : reviewDecision === 'declined'
        ? 'the clinician review declined it'
        : 'the screening awaits clinician review';
  return { code: 'screening-not-eligible', text: `A course cannot start: ${why}` };
}
