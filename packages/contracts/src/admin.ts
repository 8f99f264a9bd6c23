import { z } from 'zod';
import { PatientRef } from './patient';

/** `POST /v1/admin/reconcile`: everything, or one patient by the hospital's identifier. */
export const ReconcileRequest = z
  .strictObject({ patient: z.strictObject({ system: PatientRef.shape.system, value: PatientRef.shape.value }).optional() })
  .meta({ id: 'ReconcileRequest' });
export type ReconcileRequest = z.infer<typeof ReconcileRequest>;

export const ReconcileStarted = z.looseObject({ reconciliationId: z.uuid() }).meta({ id: 'ReconcileStarted' });

export const ReconciliationReport = z
  .looseObject({
    reconciliationId: z.uuid(),
    status: z.enum(['running', 'finished', 'failed']),
    requestedAt: z.string(),
    finishedAt: z.string().nullable(),
    summary: z.looseObject({
      inEhr: z.number().int(),
      missing: z.number().int(),
      different: z.number().int(),
      duplicated: z.number().int().optional().meta({ description: 'Resources the EHR holds more than once (reported, never deleted)' }),
    }),
    resources: z.array(
      z.looseObject({
        patient: z.string(),
        resource: z.string().meta({ description: '`Type/id` in this adapter' }),
        ehr: z.string().meta({ description: '`Type/id` in the EHR' }),
        status: z.enum(['in-ehr', 'missing', 'different']),
        requeued: z.boolean(),
        duplicates: z.array(z.string()).optional().meta({ description: 'Other EHR resources with the same identity (`Type/id` there)' }),
      }),
    ),
  })
  .meta({ id: 'ReconciliationReport' });

export const SyncStatusResponse = z
  .looseObject({
    tenants: z.array(
      z.looseObject({
        tenant: z.string(),
        pending: z.number().int(),
        synced: z.number().int(),
        dead: z.number().int(),
        waitingForPatient: z
          .number()
          .int()
          .optional()
          .meta({ description: "Resources waiting for the hospital's Patient in an EHR that may not create one" }),
        oldestPendingSeconds: z.number().meta({ description: 'Age of the oldest stored version the EHR has not confirmed; 0 when none' }),
      }),
    ),
  })
  .meta({ id: 'SyncStatusResponse' });
