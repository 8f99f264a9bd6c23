import { z } from 'zod';
import { Text } from './primitives';

/**
 * Safety alerts and the loop that closes them (GET /v1/alerts, POST
 * /v1/alerts/{id}/acknowledge, POST /v1/alerts/{id}/resolve).
 */

const Clinician = Text(200).meta({
  description: "Who did it: the clinician's name or user id, as the care team knows them",
  example: 'Dr. A. Synthetic',
});

export const AlertAcknowledgeRequest = z
  .strictObject({ by: Clinician, note: Text(2000).optional().meta({ description: 'What is being done' }) })
  .meta({ id: 'AlertAcknowledgeRequest' });
export type AlertAcknowledgeRequest = z.infer<typeof AlertAcknowledgeRequest>;

export const AlertResolveRequest = z
  .strictObject({ by: Clinician, note: Text(2000).meta({ description: 'How it was resolved (the assessment and its outcome)' }) })
  .meta({ id: 'AlertResolveRequest' });
export type AlertResolveRequest = z.infer<typeof AlertResolveRequest>;

export const AlertHistoryEntry = z
  .object({
    at: z.string(),
    event: z.enum(['raised', 'escalated', 'acknowledged', 'resolved']),
    by: z.string().optional(),
    note: z.string().optional(),
    escalation: z.number().int().optional().meta({ description: 'Which escalation: 1 for the first' }),
    communication: z.string().optional().meta({ description: 'The Communication that told the team, `Communication/<id>`' }),
  })
  .meta({ id: 'AlertHistoryEntry' });

export const AlertView = z
  .object({
    id: z.string(),
    kind: z.enum(['phq9-self-harm', 'session-blood-pressure']),
    status: z.enum(['open', 'acknowledged', 'resolved']),
    text: z.string().meta({ description: "The Flag's text: what was found" }),
    patient: z.string().meta({ description: '`Patient/<id>`' }),
    patientId: z.string(),
    courseId: z.string().nullable(),
    screeningId: z.string().nullable(),
    flag: z.string().meta({ description: '`Flag/<id>`' }),
    communication: z.string().meta({ description: 'The first Communication to the care team, `Communication/<id>`' }),
    raisedAt: z.string(),
    raisedAtClinic: z
      .string()
      .meta({ description: "raisedAt in the clinic's time zone, naming it", example: '2026-12-07 00:15 (Europe/Berlin)' }),
    acknowledgedBy: z.string().nullable(),
    acknowledgedAt: z.string().nullable(),
    resolvedBy: z.string().nullable(),
    resolvedAt: z.string().nullable(),
    escalations: z.number().int().meta({ description: 'How often it was sent again, at stat priority, while nobody acknowledged it' }),
    nextEscalationAt: z
      .string()
      .nullable()
      .meta({ description: 'When it escalates next if still not acknowledged; null once acknowledged or resolved' }),
    history: z.array(AlertHistoryEntry),
  })
  .meta({ id: 'AlertView' });
export type AlertView = z.infer<typeof AlertView>;

export const AlertList = z
  .object({
    timeZone: z.string().meta({ description: "The clinic's IANA time zone" }),
    alerts: z.array(AlertView).meta({ description: 'The alerts in the state asked for (default open), oldest first' }),
  })
  .meta({ id: 'AlertList' });
export type AlertList = z.infer<typeof AlertList>;

/** GET /v1/alerts's query. */
export const AlertListQuery = z.strictObject({
  status: z
    .enum(['open', 'acknowledged', 'resolved'])
    .optional()
    .meta({ description: 'Which alerts: `open` (default), `acknowledged` or `resolved`' }),
  patient: z.string().optional().meta({ description: "One patient's alerts: `Patient/<id>` or the id" }),
  _count: z.string().optional().meta({ description: 'Alerts per page, 1 to 100 (default 50)' }),
  _page: z.string().optional().meta({ description: 'Which page, from 1' }),
});
