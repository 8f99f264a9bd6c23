import { randomUUID } from 'node:crypto';
import type { AlertAcknowledgeRequest, AlertResolveRequest, AlertView } from '@kap/contracts';
import { formatClinicTime, parseDurationMs } from '@kap/domain';
import { acknowledgeFlag, buildAlertStepRecords, conflict, notFound, resolveFlag } from '@kap/fhir';
import { WORK, saveForSync, workRequest, type WorkRequest } from '@kap/queue';
import {
  advanceSafetyAlert,
  getSafetyAlert,
  insertSafetyAlert,
  listSafetyAlerts,
  readResource,
  type TenantDb,
  type SafetyAlertRow,
  type SafetyAlertStatus,
} from '@kap/store';
import type { Communication, Flag, Resource } from '@medplum/fhirtypes';
import type { CommandContext, CommandResult } from '../http/command';
import type { TenantSettings } from '../http/tenant-settings';

/**
 * Safety alerts that close their loop. A command that raises a safety Flag (PHQ-9 item 9,
 * an in-session blood pressure) records the alert and asks, in its own transaction, for
 * the first acknowledgement deadline (SAFETY_ALERT_ACK_WITHIN). A clinician acknowledges
 * or resolves it here; the worker escalates it while nobody has.
 */

/** Where an alert came from. */
export interface AlertOrigin {
  readonly patientId: string;
  readonly courseId?: string;
  readonly screeningId?: string;
}

/**
 * Records every alert among a command's resources (each safety Flag with the Communication
 * about it) and returns the deadline timers to enqueue with the command's other work.
 */
export async function raiseAlerts(ctx: CommandContext, produced: readonly Resource[], origin: AlertOrigin): Promise<WorkRequest[]> {
  const timers: WorkRequest[] = [];
  const window = parseDurationMs(ctx.tenant.config.SAFETY_ALERT_ACK_WITHIN);
  for (const flag of produced.filter((r): r is Flag => r.resourceType === 'Flag')) {
    const communication = produced.find(
      (r): r is Communication => r.resourceType === 'Communication' && (r.about ?? []).some((a) => a.reference === `Flag/${flag.id}`),
    );
    if (!communication) continue;
    const selfHarm = (flag.code.coding ?? []).some((c) => c.code === 'phq9-self-harm');
    const row = await insertSafetyAlert(ctx.tx, {
      id: randomUUID(),
      kind: selfHarm ? 'phq9-self-harm' : 'session-blood-pressure',
      patientId: origin.patientId,
      courseId: origin.courseId ?? null,
      screeningId: origin.screeningId ?? null,
      flagId: flag.id as string,
      communicationId: communication.id as string,
      raisedAt: ctx.now,
    });
    // Already recorded (the same Flag again): its timers are running.
    if (!row) continue;
    const dueAt = new Date(ctx.now.getTime() + window).toISOString();
    timers.push(workRequest(WORK.safetyAlertEscalation, { alertId: row.id, escalation: 1, dueAt }, { patientId: origin.patientId }));
  }
  return timers;
}

/** An alert as the API shows it: its state, who did what, and when it escalates next. */
export async function alertView(
  db: TenantDb,
  row: SafetyAlertRow,
  tenant: Pick<TenantSettings, 'timeZone' | 'config'>,
): Promise<AlertView> {
  const flag = await readResource<Flag>(db, 'Flag', row.flagId);
  const window = parseDurationMs(tenant.config.SAFETY_ALERT_ACK_WITHIN);
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    text:
      flag?.code.text ?? (row.kind === 'phq9-self-harm' ? 'PHQ-9 item 9 positive' : 'In-session blood pressure above the alert threshold'),
    patient: `Patient/${row.patientId}`,
    patientId: row.patientId,
    courseId: row.courseId,
    screeningId: row.screeningId,
    flag: `Flag/${row.flagId}`,
    communication: `Communication/${row.communicationId}`,
    raisedAt: row.raisedAt,
    raisedAtClinic: formatClinicTime(row.raisedAt, tenant.timeZone),
    acknowledgedBy: row.acknowledgedBy,
    acknowledgedAt: row.acknowledgedAt,
    resolvedBy: row.resolvedBy,
    resolvedAt: row.resolvedAt,
    escalations: row.escalations,
    nextEscalationAt: row.status === 'open' ? new Date(Date.parse(row.raisedAt) + (row.escalations + 1) * window).toISOString() : null,
    history: row.history.map((e) => ({ ...e })),
  };
}

export interface AlertQuery {
  readonly status: SafetyAlertStatus;
  readonly patientId?: string;
  readonly count: number;
  readonly page: number;
}

/** GET /v1/alerts: the tenant's alerts in one state, oldest first. */
export async function listAlerts(
  db: TenantDb,
  tenant: TenantSettings,
  q: AlertQuery,
): Promise<{ timeZone: string; alerts: AlertView[]; patientIds: string[] }> {
  const rows = await listSafetyAlerts(db, {
    status: q.status,
    ...(q.patientId ? { patientId: q.patientId } : {}),
    limit: q.count,
    offset: (q.page - 1) * q.count,
  });
  const alerts: AlertView[] = [];
  for (const row of rows) alerts.push(await alertView(db, row, tenant));
  return { timeZone: tenant.timeZone, alerts, patientIds: [...new Set(rows.map((r) => r.patientId))] };
}

type Step = 'acknowledgement' | 'resolution';

const STEP: Readonly<Record<Step, { from: readonly SafetyAlertStatus[]; to: SafetyAlertStatus; event: 'acknowledged' | 'resolved' }>> = {
  acknowledgement: { from: ['open'], to: 'acknowledged', event: 'acknowledged' },
  resolution: { from: ['open', 'acknowledged'], to: 'resolved', event: 'resolved' },
};

/** POST /v1/alerts/{id}/acknowledge and /resolve. */
export async function closeAlertStep(
  step: Step,
  id: string,
  request: AlertAcknowledgeRequest | AlertResolveRequest,
  ctx: CommandContext,
): Promise<CommandResult> {
  const alert = await getSafetyAlert(ctx.tx, id);
  if (!alert) throw notFound(`Alert ${id}`);
  const rule = STEP[step];
  const at = ctx.now.toISOString();
  const refused = (): never => {
    if (alert.status === 'resolved')
      throw conflict(`Alert ${id} was resolved by ${alert.resolvedBy} at ${alert.resolvedAt}; nothing more can be recorded`);
    throw conflict(`Alert ${id} was already acknowledged by ${alert.acknowledgedBy} at ${alert.acknowledgedAt}`);
  };
  // The same clinician acknowledging again (a second click, another device) changes nothing.
  if (step === 'acknowledgement' && alert.status === 'acknowledged' && alert.acknowledgedBy === request.by) {
    return { status: 200, body: await alertView(ctx.tx, alert, ctx.tenant), written: null };
  }
  if (!rule.from.includes(alert.status)) refused();
  const flag = await readResource<Flag>(ctx.tx, 'Flag', alert.flagId);
  if (!flag) throw new Error(`Flag ${alert.flagId} of alert ${id} is not stored`);
  const clinicAt = formatClinicTime(at, ctx.tenant.timeZone);
  const what = flag.code.text ?? 'Safety alert';
  const text =
    step === 'acknowledgement'
      ? `Acknowledged by ${request.by} at ${clinicAt}${request.note ? `: ${request.note}` : ''}. (${what})`
      : `Resolved by ${request.by} at ${clinicAt}: ${request.note}. (${what})`;
  const stepInput = { by: request.by, at, ...(request.note ? { note: request.note } : {}) };
  const updatedFlag = step === 'acknowledgement' ? acknowledgeFlag(flag, stepInput) : resolveFlag(flag, stepInput);
  const { communication, provenance } = buildAlertStepRecords({
    alertId: id,
    step,
    patient: { reference: `Patient/${alert.patientId}` },
    flag: { reference: `Flag/${alert.flagId}` },
    text,
    at,
    by: request.by,
  });
  // Compare-and-set: an escalation or another clinician that got there first wins, and this is refused.
  const advanced = await advanceSafetyAlert(ctx.tx, id, rule.from, {
    status: rule.to,
    event: {
      at,
      event: rule.event,
      by: request.by,
      ...(request.note ? { note: request.note } : {}),
      communication: `Communication/${communication.id}`,
    },
  });
  if (!advanced) {
    const now = await getSafetyAlert(ctx.tx, id);
    if (now) Object.assign(alert, now);
    refused();
  }
  const saved = await saveForSync(ctx.tx, alert.patientId, [updatedFlag, communication, provenance], {
    reason: step === 'acknowledgement' ? 'safety-alert-acknowledged' : 'safety-alert-resolved',
    webhookUrls: ctx.webhookUrls,
  });
  return {
    status: 200,
    body: await alertView(ctx.tx, advanced as SafetyAlertRow, ctx.tenant),
    written: { patientId: alert.patientId, resources: saved },
  };
}
