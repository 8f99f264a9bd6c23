import type { Task } from '@medplum/fhirtypes';
import { assertBundleInvariants } from '@kap/testkit/fhir-invariants';
import { collectionBundle } from './bundle';
import { buildCareTeamCommunication } from './communication';
import { referenceTo } from './datatypes';
import {
  buildFollowUpTask,
  cancelFollowUpTask,
  completeFollowUpTask,
  escalateFollowUpTask,
  ESCALATED_STATUS_TEXT,
  type FollowUpTaskInput,
} from './follow-up-task';
import { KAP_CODE_SYSTEM_URL, RESOURCE_IDENTIFIER_SYSTEM, resourceId, resourceIdentifier } from './resource-ids';
import { buildIntegrationProcedure } from './integration-procedure';
import { BASE_URL } from '@kap/testkit/fixtures';

const AUTHORED = '2026-03-10T11:00:00Z';
const DUE = '2026-03-11T10:45:00+01:00';
const input: FollowUpTaskInput = {
  followUpId: 'fu-1',
  courseId: 'c1',
  sessionNumber: 1,
  sequence: 1,
  dueBy: DUE,
  patient: { reference: 'Patient/p1' },
  carePlan: { reference: 'CarePlan/cp1' },
  sessionProcedure: { reference: 'Procedure/session-1' },
  authoredOn: AUTHORED,
};
const known = new Set(['Patient/p1', 'CarePlan/cp1', 'Procedure/session-1']);
const codes = (c: { coding?: { system?: string; code?: string }[] } | undefined): string[] =>
  c?.coding?.map((x) => `${x.system}|${x.code}`) ?? [];

describe('buildFollowUpTask', () => {
  const task = buildFollowUpTask(input);

  it('is a requested routine order for integration psychotherapy, due when the window closes', () => {
    expect(task).toMatchObject({
      status: 'requested',
      intent: 'order',
      priority: 'routine',
      for: input.patient,
      basedOn: [input.carePlan],
      reasonReference: input.sessionProcedure,
      authoredOn: AUTHORED,
      restriction: { period: { end: DUE } },
    });
    expect(task.focus).toBeUndefined();
    expect(codes(task.code)).toEqual([`${KAP_CODE_SYSTEM_URL}|integration`, 'http://snomed.info/sct|75516001']);
    expect(task.description).toContain(DUE);
    assertBundleInvariants(collectionBundle([task], BASE_URL, AUTHORED), known);
  });

  it("is identified by the follow-up key and grouped with the session's other follow-ups", () => {
    expect(task.id).toBe(resourceId('follow-up/fu-1/task'));
    expect(task.identifier).toEqual([{ system: RESOURCE_IDENTIFIER_SYSTEM, value: task.id }]);
    expect(task.groupIdentifier).toEqual(resourceIdentifier('course/c1/session/1/follow-ups'));
    expect(buildFollowUpTask({ ...input, followUpId: 'fu-2', sequence: 2 }).groupIdentifier).toEqual(task.groupIdentifier);
  });
});

describe('follow-up transitions', () => {
  const task = buildFollowUpTask(input);
  const LATE = '2026-03-11T10:46:00+01:00';

  it('escalate: urgent, business status, a note; once only', () => {
    const escalated = escalateFollowUpTask(task, LATE);
    expect(escalated).toMatchObject({
      status: 'requested',
      priority: 'urgent',
      businessStatus: { text: ESCALATED_STATUS_TEXT },
      lastModified: LATE,
    });
    expect(escalated.note).toHaveLength(1);
    expect(escalated.note?.[0]?.text).toContain(DUE);
    expect(escalateFollowUpTask(escalated, '2026-03-12T09:00:00Z')).toBe(escalated);
    expect(task.priority).toBe('routine');
  });

  it('cancel: cancelled with the reason; a completed follow-up cannot be cancelled', () => {
    const cancelled = cancelFollowUpTask(task, LATE, 'Course stopped: the patient withdrew.');
    expect(cancelled).toMatchObject({
      status: 'cancelled',
      statusReason: { text: 'Course stopped: the patient withdrew.' },
      lastModified: LATE,
    });
    expect(cancelFollowUpTask(cancelled, LATE, 'again')).toBe(cancelled);
    expect(() => escalateFollowUpTask(cancelled, LATE)).toThrow(/cancelled/);
    const done = completeFollowUpTask(task, LATE, { reference: 'Procedure/x' });
    expect(() => cancelFollowUpTask(done, LATE, 'x')).toThrow(/completed/);
  });

  it('complete (even after escalation): completed, execution end, the integration Procedure as output', () => {
    const procedure = buildIntegrationProcedure({
      followUpId: 'fu-1',
      patient: input.patient,
      task: referenceTo(task),
      carePlan: input.carePlan,
      completedAt: LATE,
      note: 'Talked through the imagery of the session.',
    });
    const completed: Task = completeFollowUpTask(escalateFollowUpTask(task, LATE), LATE, referenceTo(procedure));
    expect(completed).toMatchObject({
      status: 'completed',
      executionPeriod: { end: LATE },
      output: [{ valueReference: { reference: `Procedure/${procedure.id}` } }],
    });
    expect(() => completeFollowUpTask(cancelFollowUpTask(task, LATE, 'stopped'), LATE, referenceTo(procedure))).toThrow(/cancelled/);
    assertBundleInvariants(collectionBundle([completed, procedure], BASE_URL, LATE), known);
  });
});

describe('buildIntegrationProcedure', () => {
  const task = buildFollowUpTask(input);
  const base = {
    followUpId: 'fu-1',
    patient: input.patient,
    task: referenceTo(task),
    carePlan: input.carePlan,
    completedAt: '2026-03-11T09:00:00+01:00',
  };

  it('is a completed integration psychotherapy Procedure based on the CarePlan', () => {
    const p = buildIntegrationProcedure({ ...base, note: 'Good session' });
    expect(p).toMatchObject({
      status: 'completed',
      basedOn: [input.carePlan],
      subject: input.patient,
      performedDateTime: base.completedAt,
    });
    expect(codes(p.code)).toEqual([`${KAP_CODE_SYSTEM_URL}|integration`, 'http://snomed.info/sct|75516001']);
    expect(p.note).toEqual([{ time: base.completedAt, text: 'Good session' }]);
    expect(p.id).toBe(resourceId('follow-up/fu-1/procedure'));
    expect(buildIntegrationProcedure(base).note).toBeUndefined();
  });

  it('refuses a Task of another follow-up', () => {
    expect(() => buildIntegrationProcedure({ ...base, task: { reference: 'Task/other' } })).toThrow(/not Task\/other/);
  });
});

describe('buildCareTeamCommunication', () => {
  it('is a completed, categorised, prioritised notification about the given resources', () => {
    const task = buildFollowUpTask(input);
    const c = buildCareTeamCommunication({
      key: 'follow-up/fu-1/escalation',
      patient: input.patient,
      about: [referenceTo(task)],
      category: 'follow-up-escalation',
      text: 'Integration follow-up 1 was not done in its window.',
      sent: '2026-03-11T10:46:00+01:00',
      priority: 'urgent',
    });
    expect(c).toMatchObject({
      status: 'completed',
      priority: 'urgent',
      subject: input.patient,
      about: [{ reference: `Task/${task.id}` }],
      sent: '2026-03-11T10:46:00+01:00',
      payload: [{ contentString: 'Integration follow-up 1 was not done in its window.' }],
      identifier: [{ system: RESOURCE_IDENTIFIER_SYSTEM, value: resourceId('follow-up/fu-1/escalation') }],
    });
    expect(codes(c.category?.[0])).toEqual([`${KAP_CODE_SYSTEM_URL}|follow-up-escalation`]);
    assertBundleInvariants(collectionBundle([task, c], BASE_URL, AUTHORED), known);
    const noAbout = buildCareTeamCommunication({
      key: 'k',
      patient: input.patient,
      about: [],
      category: 'care-plan-update',
      text: 't',
      sent: AUTHORED,
      priority: 'routine',
    });
    expect(noAbout.about).toBeUndefined();
  });
});
