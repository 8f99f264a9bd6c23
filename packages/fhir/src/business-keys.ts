/**
 * Every business key that decides a resource's id, in one place. A resource's id and
 * identifier are UUID v5 of its key (`resourceId`), so the same source record always maps
 * to the same resource, a retry or replay writes it again rather than a second one, and
 * the EHR's conditional create finds it. Changing a key's format changes every id made
 * from it: `business-keys.test.ts` pins each one.
 * @see https://hl7.org/fhir/R4/resource.html#identifiers
 */

/**
 * A patient: the hospital identifier, `patient/<system>|<value>`, below its tenant, so the
 * same identifier in two hospitals is two patients. The default tenant's keys are those from
 * before tenants, so its patients keep their ids; another tenant's id is URI-encoded, so no
 * `/` in it can make two tenants' keys meet.
 */
export const patientKey = (ref: { readonly system: string; readonly value: string }, tenantId: string): string =>
  tenantId === 'default'
    ? `patient/${ref.system}|${ref.value}`
    : `tenant/${encodeURIComponent(tenantId)}/patient/${ref.system}|${ref.value}`;

/** A resource of screening `screeningId`, e.g. `screening/s1/observation/heart-rate`. */
export const screeningKey = (screeningId: string, path: string): string => `screening/${screeningId}/${path}`;
/** A screening's QuestionnaireResponse. */
export const questionnaireResponseKey = (screeningId: string): string => screeningKey(screeningId, 'questionnaire-response');
/** A screening's eligibility Observation (whose members are the findings). */
export const eligibilityKey = (screeningId: string): string => screeningKey(screeningId, 'observation/eligibility');
/** One finding of a screening, by its reason code. */
export const findingKey = (screeningId: string, code: string): string => screeningKey(screeningId, `observation/finding/${code}`);
/** A screening's blood-pressure panel. */
export const bloodPressureKey = (screeningId: string): string => screeningKey(screeningId, 'observation/blood-pressure');

/** A course's CarePlan (one resource, revised as the course goes on). */
export const carePlanKey = (courseId: string): string => `course/${courseId}/care-plan`;
/** A course's dosing session; its resources hang below it. */
export const dosingSessionKey = (courseId: string, sessionNumber: number): string => `course/${courseId}/session/${sessionNumber}`;
/** A resource of a dosing session, e.g. `…/session/1/encounter`. */
export const sessionResourceKey = (sessionKey: string, path: string): string => `${sessionKey}/${path}`;
/** A dosing session's in-session blood-pressure alert (DetectedIssue, Flag, Communication below it). */
export const sessionAlertKey = (courseId: string, sessionNumber: number): string =>
  sessionResourceKey(dosingSessionKey(courseId, sessionNumber), 'blood-pressure-alert');
/** The group of a session's follow-up Tasks. */
export const followUpGroupKey = (courseId: string, sessionNumber: number): string =>
  sessionResourceKey(dosingSessionKey(courseId, sessionNumber), 'follow-ups');

/** An integration follow-up; its Task and Procedure hang below it. */
export const followUpKey = (followUpId: string): string => `follow-up/${followUpId}`;
export const followUpTaskKey = (followUpId: string): string => `${followUpKey(followUpId)}/task`;
export const followUpProcedureKey = (followUpId: string): string => `${followUpKey(followUpId)}/procedure`;
/** The care team's reminder before a follow-up is due, or its escalation when it was missed. */
export const followUpNotificationKey = (followUpId: string, kind: 'reminder' | 'escalation'): string =>
  `${followUpKey(followUpId)}/${kind}`;

/** A goals-of-care discussion of a course; its Goals hang below it. */
export const goalsOfCareKey = (courseId: string, discussionId: string): string => `course/${courseId}/goals-of-care/${discussionId}`;
export const goalKey = (discussionKey: string, index: number): string => `${discussionKey}/goal/${index + 1}`;

/** Version `version` (1, 2, ...) of a course's note; each version is a DocumentReference of its own. */
export const courseNoteKey = (courseId: string, version: number): string => `course/${courseId}/note/${version}`;

/** The Provenance of one write, below the key of what it records. */
export const provenanceKey = (ofKey: string): string => `${ofKey}/provenance`;
/** Keys of the writes whose Provenance has no resource key of its own. */
export const courseStopKey = (courseId: string): string => `course/${courseId}/stop`;
export const followUpCompletionKey = (followUpId: string): string => `${followUpKey(followUpId)}/completion`;

/** A screening's self-harm alert (PHQ-9 item 9); its Flag and Communication hang below it. */
export const screeningSelfHarmAlertKey = (screeningId: string): string => screeningKey(screeningId, 'alert/phq9-self-harm');
/** A PHQ-9/GAD-7 measure of a course; its responses, totals and alert hang below it. */
export const measureKey = (courseId: string, measureId: string): string => `course/${courseId}/measure/${measureId}`;
/** A measure's QuestionnaireResponse or total-score Observation of one instrument. */
export const measureResourceKey = (measure: string, instrument: 'phq9' | 'gad7', what: 'questionnaire-response' | 'total'): string =>
  `${measure}/${instrument}/${what}`;
/** A measure's self-harm alert; its Flag and Communication hang below it. */
export const measureSelfHarmAlertKey = (measure: string): string => `${measure}/alert/phq9-self-harm`;
/** The Flag or the Communication of a self-harm alert. */
export const selfHarmAlertResourceKey = (alertKey: string, what: 'flag' | 'communication'): string => `${alertKey}/${what}`;

/** The care team's message about a course a hospital event (a death, a discharge) stopped. */
export const inboundCareTeamKey = (messageId: string | number, courseId: string): string =>
  `inbound/${messageId}/course/${courseId}/care-team`;
