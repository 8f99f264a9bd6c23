import type { Encounter, Patient, Procedure, Reference } from '@medplum/fhirtypes';

/**
 * The business key of dosing session `sessionNumber` of course `courseId`, the prefix of
 * every resource the session produces (`course/<courseId>/session/<n>/encounter`, ...). A
 * course records each session once (domain `checkDosingSession`), so course and number
 * identify it, and a retried POST rebuilds the same ids.
 */

/** What every resource of one dosing session shares. */
export interface SessionContext {
  /** `dosingSessionKey(courseId, sessionNumber)`. */
  readonly key: string;
  readonly subject: Reference<Patient>;
  /** When the adapter recorded the session (`Observation.issued`, `AdverseEvent.recordedDate`). */
  readonly recordedAt: string;
  readonly encounter: Reference<Encounter>;
  /** The session Procedure that what was measured and given during the session is part of. */
  readonly procedure: Reference<Procedure>;
}

/** The business key of a resource of the session, e.g. `course/c1/session/1/vitals/2/heart-rate`. */
