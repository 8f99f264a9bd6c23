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
    summary: z.looseObject({ inEhr: z.number().int(), missing: z.number().int(), different: z.number().int() }),
    resources: z.array(
      z.looseObject({
        patient: z.string(),
        resource: z.string().meta({ description: '`Type/id` in this adapter' }),
        ehr: z.string().meta({ description: '`Type/id` in the EHR' }),
        status: z.enum(['in-ehr', 'missing', 'different']),
        requeued: z.boolean(),
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
        oldestPendingSeconds: z.number().meta({ description: 'Age of the oldest stored version the EHR has not confirmed; 0 when none' }),
      }),
    ),
  })
  .meta({ id: 'SyncStatusResponse' });
