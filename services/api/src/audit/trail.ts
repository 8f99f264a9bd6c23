import { randomUUID } from 'node:crypto';
import { auditPatientId, buildAuditEvent, type AuditClient, type AuditInteraction } from '@kap/fhir';
import { saveForSync } from '@kap/queue';
import { auditEventsInsert, insertAuditEvents, type TenantDb, type WriteStatement } from '@kap/store';
import type { AuditEvent } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import client from 'prom-client';
import { safeError } from '../ops/redaction';
import { singleton } from '../ops/metrics';
import type { RefusalLog, RefusedToken } from './refusals';

/** One request's access to patient data, as the AuditEvent will tell it. */
export interface AuditRecord {
  readonly interaction: AuditInteraction;
  readonly status: number;
  readonly client: AuditClient;
  readonly patientId?: string;
  /** `Type/id` of the resources read or written besides the Patient. */
  readonly resources?: readonly string[];
  readonly query?: string;
  readonly recorded: string;
}

const written = singleton(
  'kap_audit_events_written_total',
  () =>
    new client.Counter({
      name: 'kap_audit_events_written_total',
      help: 'AuditEvents stored, by how: with a write (transaction) or batched (reads, failures)',
      labelNames: ['path'],
    }),
);
const dropped = singleton(
  'kap_audit_events_dropped_total',
  () =>
    new client.Counter({
      name: 'kap_audit_events_dropped_total',
      help: 'AuditEvents lost: the queue overflowed while the database refused batches, or shutdown could not store them',
    }),
);
const batchFailures = singleton(
  'kap_audit_batch_failures_total',
  () =>
    new client.Counter({ name: 'kap_audit_batch_failures_total', help: 'Batches of AuditEvents the database refused (each is retried)' }),
);
const queued = singleton(
  'kap_audit_events_queued',
  () => new client.Gauge({ name: 'kap_audit_events_queued', help: 'AuditEvents waiting to be written' }),
);

/** `validate: false` for batches: see `buildAuditEvent`. */
export function auditEventOf(record: AuditRecord, baseUrl: string, id: string = randomUUID(), validate = true): AuditEvent {
  return buildAuditEvent({ id, baseUrl, ...record }, { validate });
}

/**
 * Stores AuditEvents in the caller's transaction; with `syncToEhr`, each that names a
 * patient is also saved for the EHR sync through the outbox, in that same transaction.
 */
export async function writeAuditEvents(tx: TenantDb, events: readonly AuditEvent[], syncToEhr: boolean): Promise<void> {
  if (events.length === 0) return;
  const rows = events.map((event) => ({ event, patientId: auditPatientId(event) ?? null }));
  await insertAuditEvents(tx, rows);
  if (!syncToEhr) return;
  const byPatient = new Map<string, AuditEvent[]>();
  for (const { event, patientId } of rows) if (patientId) byPatient.set(patientId, [...(byPatient.get(patientId) ?? []), event]);
  for (const [patientId, list] of byPatient) await saveForSync(tx, patientId, list, { reason: 'audit' });
}

/** The statements writeAuditEvents runs without `syncToEhr`, for writeTogether. */
export function auditEventStatements(events: readonly AuditEvent[]): WriteStatement[] {
  return auditEventsInsert(events.map((event) => ({ event, patientId: auditPatientId(event) ?? null })));
}

/** Counts AuditEvents stored with a write, in the write's transaction. */
export function countWrittenInTransaction(n: number): void {
  written.inc({ path: 'transaction' }, n);
}

export interface AuditTrailOptions {
  /** The database as one tenant sees it: each tenant's events are written as that tenant. */
  readonly dbFor: (tenantId: string) => TenantDb;
  readonly baseUrl: string;
  readonly batchSize: number;
  readonly flushMs: number;
  readonly syncToEhr: boolean;
  readonly logger: Logger;
  /** Most events held while the database refuses them; beyond it the oldest are dropped (and counted). */
  readonly maxQueued?: number;
  /** The deployment's record of refused tokens, flushed and closed with the trail. */
  readonly refusals?: RefusalLog;
}

const RETRY_CAP_MS = 30_000;

/** The id is drawn when queued, so a batch written again after an unknown outcome stores each event once. */
interface Queued {
  readonly tenantId: string;
  readonly id: string;
  readonly record: AuditRecord;
}

/**
 * The AuditEvents of reads and of failed requests: queued in memory so a read never waits
 * for its audit row, and written per tenant in batches, when `batchSize` are waiting or
 * `flushMs` after the first. A batch the database refuses stays queued and is tried again
 * with backoff; `close()` writes what is left before the database closes.
 */
export class AuditTrail {
  private readonly pending: Queued[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private failures = 0;
  private closed = false;
  private readonly maxQueued: number;

  constructor(private readonly options: AuditTrailOptions) {
    this.maxQueued = options.maxQueued ?? Math.max(options.batchSize * 500, 10_000);
  }

  /** Queues one record; never throws, never waits. */
  record(tenantId: string, record: AuditRecord): void {
    this.pending.push({ tenantId, id: randomUUID(), record });
    if (this.pending.length > this.maxQueued) {
      const lost = this.pending.splice(0, this.pending.length - this.maxQueued).length;
      dropped.inc(lost);
      this.options.logger.error({ lost }, 'audit queue overflowed while the database refused batches: oldest AuditEvents dropped');
    }
    queued.set(this.pending.length);
    if (this.closed || this.pending.length >= this.options.batchSize) this.schedule(0);
    else if (!this.timer) this.schedule(this.options.flushMs);
  }

  /** Counts a refused token (401) in the deployment's record; never throws, never waits. */
  refused(refused: RefusedToken): void {
    this.options.refusals?.record(refused);
  }

  /** Writes everything queued so far; rejects (keeping it queued) if the database refuses. */
  flush(): Promise<void> {
    this.clearTimer();
    const run = this.running.catch(() => undefined).then(() => this.writeAll());
    this.running = run;
    return this.options.refusals ? Promise.all([run, this.options.refusals.flush()]).then(() => undefined) : run;
  }

  /** Writes what is left, retrying a few times; what still cannot be written is counted as dropped. */
  async close(): Promise<void> {
    this.closed = true;
    await this.options.refusals?.close();
    for (let attempt = 0; ; attempt++) {
      try {
        await this.flush();
        return;
      } catch (err) {
        if (attempt >= 2) {
          const lost = this.pending.splice(0).length;
          dropped.inc(lost);
          queued.set(0);
          this.options.logger.error({ err: safeError(err), lost }, 'AuditEvents could not be stored before shutdown');
          return;
        }
        await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      }
    }
  }

  get size(): number {
    return this.pending.length;
  }

  private schedule(ms: number): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch(() => undefined);
    }, ms);
    // Pending events never keep a process alive: close() is what stores them at shutdown.
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async writeAll(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.slice(0, this.options.batchSize);
      try {
        await this.writeBatch(batch);
      } catch (err) {
        this.failures += 1;
        batchFailures.inc();
        // Counts and the error's code only: a driver error may quote the row, which names a patient.
        this.options.logger.warn(
          { err: safeError(err), events: batch.length, queued: this.pending.length, attempt: this.failures },
          'audit batch not stored; it stays queued and is retried',
        );
        if (!this.closed) this.schedule(Math.min(this.options.flushMs * 2 ** this.failures, RETRY_CAP_MS));
        throw err;
      }
      this.pending.splice(0, batch.length);
      this.failures = 0;
      written.inc({ path: 'batch' }, batch.length);
      queued.set(this.pending.length);
    }
  }

  private async writeBatch(batch: readonly Queued[]): Promise<void> {
    const byTenant = new Map<string, AuditEvent[]>();
    for (const { tenantId, id, record } of batch) {
      let event: AuditEvent;
      try {
        event = auditEventOf(record, this.options.baseUrl, id, false);
      } catch (err) {
        // A record the mapping refuses is a bug; retrying it would hold up every event behind it.
        dropped.inc();
        this.options.logger.error({ err: safeError(err), interaction: record.interaction }, 'AuditEvent could not be built; dropped');
        continue;
      }
      byTenant.set(tenantId, [...(byTenant.get(tenantId) ?? []), event]);
    }
    // One transaction per tenant: all of a tenant's part of the batch is stored, or none of it.
    // A tenant's part stored before another's failed comes again on the retry with the same ids: skipped.
    for (const [tenantId, events] of byTenant) {
      await this.options.dbFor(tenantId).transaction((tx) => writeAuditEvents(tx, events, this.options.syncToEhr));
    }
  }
}
