import { DEFINITIONAL_RESOURCES, isResourceType, type AuditClient, type AuditInteraction } from '@kap/fhir';
import type { Request, RequestHandler, Response } from 'express';
import { callerOf } from '../http/caller';
import type { AuditRecord, AuditTrail } from './trail';

/** Types that are no patient's data: reading them is not audited. */
const DEFINITIONAL_TYPES = new Set(DEFINITIONAL_RESOURCES.map((r) => r.resourceType as string));
const FHIR_PATH = /^\/fhir\/R4\/([A-Za-z]+)(?:\/([^/]+)(?:\/_history\/([^/]+))?)?\/?$/;
const V1_READ = /^\/v1\/courses\/[^/]+(?:\/outcomes)?\/?$/;
/** Commands that change what exists (a review, a stop, a completion) rather than add to it. */
const V1_UPDATE = /^\/v1\/(?:screenings\/[^/]+\/review|courses\/[^/]+\/stop|follow-ups\/[^/]+\/complete)\/?$/;

/**
 * Which requests touch patient data, and as what interaction, from the method and path
 * alone: so a request refused before its route runs (403 for a missing scope, 404 for an
 * unknown id) is audited like one that got through. Operators' routes and the EHR's own
 * notifications are not a client's access to a patient's record, except the hospital's
 * messages read with their content.
 */
export function auditedInteraction(
  method: string,
  path: string,
  query: Readonly<Record<string, unknown>> = {},
): AuditInteraction | undefined {
  if (method === 'GET' || method === 'HEAD') {
    if (V1_READ.test(path)) return 'read';
    // An operator asking for the hospital's messages themselves reads patient data.
    if (path === '/v1/admin/inbound-messages') return query.content === 'true' ? 'search-type' : undefined;
    const fhir = FHIR_PATH.exec(path);
    const type = fhir?.[1];
    if (!fhir || !type || !isResourceType(type) || DEFINITIONAL_TYPES.has(type)) return undefined;
    return fhir[3] ? 'vread' : fhir[2] ? 'read' : 'search-type';
  }
  if (method === 'POST') {
    if (path === '/fhir/R4/QuestionnaireResponse') return 'create';
    if (!path.startsWith('/v1/') || path.startsWith('/v1/admin/') || path === '/v1/ehr-notifications') return undefined;
    return V1_UPDATE.test(path) ? 'update' : 'create';
  }
  return undefined;
}

/** What a route found out about the data it served; the request's AuditEvents are made from it. */
interface AuditNote {
  /** The patients whose data was served: a search gets one AuditEvent per patient. */
  patients?: string[];
  /** `Type/id` of what was read besides the Patient. */
  resources?: string[];
  /** The command stored its AuditEvents in its own transaction; none is queued. */
  stored?: boolean;
  /** An idempotent replay: the write it repeats was audited when it happened. */
  replay?: boolean;
}

function noteOf(res: Response): AuditNote {
  const locals = res.locals as { audit?: AuditNote };
  return (locals.audit ??= {});
}

/** Records which patient's data, and which resources, this request served. */
export function noteAuditRead(res: Response, read: { patients?: Iterable<string | undefined>; resources?: Iterable<string> }): void {
  const note = noteOf(res);
  for (const p of read.patients ?? []) if (p && !(note.patients ??= []).includes(p)) note.patients.push(p);
  for (const r of read.resources ?? []) (note.resources ??= []).push(r);
}

export function noteAuditStored(res: Response): void {
  noteOf(res).stored = true;
}

export function noteAuditReplay(res: Response): void {
  noteOf(res).replay = true;
}

/** The client as authentication established it, and where it called from. */
export function auditClientOf(req: Request, res: Response): AuditClient {
  const caller = callerOf(res);
  const address = req.socket.remoteAddress;
  return { clientId: caller.clientId, ...(caller.subject ? { subject: caller.subject } : {}), ...(address ? { address } : {}) };
}

/**
 * Queues the AuditEvents of each request that touches patient data once it is answered,
 * with the status as the outcome; a command's successful write stored its own already.
 * A 401 has no tenant to record it for; a request dropped before any answer revealed nothing.
 */
export function auditRequests(trail: AuditTrail, now: () => Date): RequestHandler {
  return (req, res, next) => {
    const interaction = auditedInteraction(req.method, req.path, req.query as Record<string, unknown>);
    if (!interaction) {
      next();
      return;
    }
    let done = false;
    // 'finish' once the answer is handed over (before the client can read it); 'close' if the client went away first.
    const record = (): void => {
      if (done) return;
      done = true;
      const note = noteOf(res);
      if (!res.headersSent || res.statusCode === 401 || note.stored || note.replay) return;
      const base = {
        interaction,
        status: res.statusCode,
        client: auditClientOf(req, res),
        recorded: now().toISOString(),
        ...(note.resources?.length ? { resources: [...new Set(note.resources)] } : {}),
        ...(interaction === 'search-type' ? { query: req.originalUrl } : {}),
      } satisfies AuditRecord;
      const tenantId = callerOf(res).tenantId;
      const patients = note.patients ?? [];
      if (patients.length === 0) trail.record(tenantId, base);
      for (const patientId of patients) trail.record(tenantId, { ...base, patientId });
    };
    res.once('finish', record);
    res.once('close', record);
    next();
  };
}
