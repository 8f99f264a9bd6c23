import { ScreeningRequest, unsafeTextReason } from '@kap/contracts';
import {
  DEFINITIONAL_RESOURCES,
  auditPatientId,
  badRequest,
  buildCapabilityStatement,
  isResourceType,
  notFound,
  screeningRequestFromQuestionnaireResponse,
  searchsetBundle,
  OutcomeError,
  operationOutcome,
  validationIssues,
} from '@kap/fhir';
import {
  patientIdOf as patientOfStored,
  readAuditEvent,
  readResource,
  readResourceVersion,
  searchAuditEvents,
  searchResources,
} from '@kap/store';
import type { Resource } from '@medplum/fhirtypes';
import { Router, type Request } from 'express';
import { noteAuditRead } from '../audit/requests';
import type { AppDeps } from '../deps';
import { baseUrlOf, command, guardDatabase, zodParser } from '../http/command';
import { sendResource } from '../http/respond';
import { requestDb } from '../http/tenant-db';
import { recordScreening } from '../workflows/screening';

const SEARCH_PARAMS = new Set(['patient', 'subject', 'identifier', '_id', '_count', '_offset', '_format']);
/** A page holds at most this many entries, whatever `_count` asks (http://hl7.org/fhir/R4/search.html#count); `next` links page on. */
export const MAX_COUNT = 100;
const DEFAULT_COUNT = 50;
/** Types that are no patient's data: searching them needs no patient. */
const DEFINITIONAL_TYPES = new Set(DEFINITIONAL_RESOURCES.map((r) => r.resourceType as string));

/** Where the fields of the REST screening come from in a QuestionnaireResponse, to name them in a 400. */
const QR_FIELDS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^patient\.system$/, 'QuestionnaireResponse.subject.identifier.system'],
  [/^patient\.value$/, 'QuestionnaireResponse.subject.identifier.value'],
  [/^patient\.name$/, 'QuestionnaireResponse.subject.display'],
  [/^performedAt$/, 'QuestionnaireResponse.authored'],
];

/**
 * A POSTed resource must be FHIR JSON: an element R4 does not define is an error, not
 * something to drop silently (http://hl7.org/fhir/R4/json.html).
 */
function refuseInvalidFhir(body: unknown): void {
  let issues: ReturnType<typeof validationIssues>;
  try {
    issues = validationIssues(body as Resource);
  } catch {
    throw badRequest('The body is not a valid FHIR R4 resource', 'QuestionnaireResponse');
  }
  if (issues.length === 0) return;
  throw new OutcomeError(
    400,
    operationOutcome(
      issues.slice(0, 50).map((i) => ({
        code: i.code === 'structure' ? 'structure' : 'invalid',
        diagnostics: (i.details?.text ?? i.diagnostics ?? 'Invalid element').slice(0, 300),
        expression: i.expression?.[0],
      })),
    ),
  );
}

function qrParser(body: unknown) {
  if (typeof body === 'object' && body !== null && (body as { resourceType?: unknown }).resourceType === 'QuestionnaireResponse')
    refuseInvalidFhir(body);
  const mapped = screeningRequestFromQuestionnaireResponse(body);
  if (!mapped.ok) throw new OutcomeError(400, operationOutcome(mapped.issues));
  try {
    return zodParser(ScreeningRequest)(mapped.value);
  } catch (err) {
    if (!(err instanceof OutcomeError)) throw err;
    const issue = err.outcome.issue?.map((i) => {
      const at = i.expression?.[0];
      const to = at ? QR_FIELDS.find(([from]) => from.test(at))?.[1] : undefined;
      return to ? { ...i, expression: [to], diagnostics: (i.diagnostics ?? '').replace(at as string, to) } : i;
    });
    throw new OutcomeError(400, { ...err.outcome, issue });
  }
}

/** AuditEvent has no `identifier` or `subject` in R4 (http://hl7.org/fhir/R4/auditevent.html#search). */
const AUDIT_SEARCH_PARAMS = new Set(['patient', '_id', '_count', '_offset', '_format']);

/** The patient a resource belongs to: itself for a Patient, the one an AuditEvent names. */
function patientOfResource(resource: Resource): string | undefined {
  if (resource.resourceType === 'Patient') return resource.id;
  if (resource.resourceType === 'AuditEvent') return auditPatientId(resource);
  return patientOfStored(resource);
}

function resourceType(req: Request): string {
  const type = req.params.type as string;
  if (!isResourceType(type)) throw notFound(`Resource type ${type}`);
  return type;
}

function withEtag(res: import('express').Response, resource: Resource): void {
  if (resource.meta?.versionId) res.setHeader('ETag', `W/"${resource.meta.versionId}"`);
  if (resource.meta?.lastUpdated) res.setHeader('Last-Modified', new Date(resource.meta.lastUpdated).toUTCString());
}

/** Parses `Patient/<id>` or a bare id, the two forms a `patient` search parameter takes. */
function patientIdOf(value: string, name: string): string {
  const match = /^(?:Patient\/)?([A-Za-z0-9\-.]{1,64})$/.exec(value);
  if (!match?.[1]) throw badRequest(`${name} must be Patient/<id> or <id>`, name);
  return match[1];
}

function intParam(value: string | undefined, name: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max) throw badRequest(`${name} must be an integer from 0 to ${max}`, name);
  return n;
}

/**
 * The FHIR R4 face of the adapter (http://hl7.org/fhir/R4/http.html): its CapabilityStatement,
 * read, vread and search of what it produced, its Questionnaires, and screenings submitted
 * as QuestionnaireResponses.
 */
export function fhirRoutes(deps: AppDeps): Router {
  const router = Router();
  const base = baseUrlOf(deps);

  router.get('/fhir/R4/metadata', (req, res) => {
    sendResource(req, res, 200, buildCapabilityStatement({ baseUrl: base, date: new Date().toISOString() }));
  });

  router.post(
    '/fhir/R4/QuestionnaireResponse',
    command(deps, qrParser, (input, ctx) => recordScreening(input, ctx, ctx.tenant.rules)),
  );

  router.get('/fhir/R4/:type/:id', async (req, res) => {
    const type = resourceType(req);
    const id = req.params.id as string;
    noteAuditRead(res, { resources: [`${type}/${id}`] });
    const resource =
      DEFINITIONAL_RESOURCES.find((r) => r.resourceType === type && r.id === id) ??
      (type === 'AuditEvent'
        ? await guardDatabase(() => readAuditEvent(requestDb(deps, res), id))
        : await guardDatabase(() => readResource(requestDb(deps, res), type, id)));
    if (!resource) throw notFound(`${type}/${id}`);
    noteAuditRead(res, { patients: [patientOfResource(resource)] });
    withEtag(res, resource);
    sendResource(req, res, 200, resource);
  });

  router.get('/fhir/R4/:type/:id/_history/:vid', async (req, res) => {
    const type = resourceType(req);
    noteAuditRead(res, { resources: [`${type}/${req.params.id}/_history/${req.params.vid}`] });
    const resource = await guardDatabase(() =>
      readResourceVersion(requestDb(deps, res), type, req.params.id as string, req.params.vid as string),
    );
    if (!resource) throw notFound(`${type}/${req.params.id}/_history/${req.params.vid}`);
    noteAuditRead(res, { patients: [patientOfResource(resource)] });
    withEtag(res, resource);
    sendResource(req, res, 200, resource);
  });

  router.get('/fhir/R4/:type', async (req, res) => {
    const type = resourceType(req);
    const query = req.query as Record<string, unknown>;
    const supported = type === 'AuditEvent' ? AUDIT_SEARCH_PARAMS : SEARCH_PARAMS;
    for (const [name, value] of Object.entries(query)) {
      if (!supported.has(name)) throw badRequest(`Unsupported search parameter "${name}"`, name);
      if (typeof value !== 'string') throw badRequest(`Search parameter "${name}" may be given once`, name);
      const unsafe = unsafeTextReason(value, true);
      if (unsafe || value.length > 1024)
        throw badRequest(`Search parameter "${name}" ${unsafe ?? 'must be at most 1024 characters'}`, name);
    }
    const q = query as Record<string, string | undefined>;
    const patientParam = q.patient ?? q.subject;
    const patient = patientParam ? patientIdOf(patientParam, q.patient ? 'patient' : 'subject') : undefined;
    if (patient) noteAuditRead(res, { patients: [patient] });
    let identifier: { system?: string; value: string } | undefined;
    if (q.identifier) {
      const [system, value] = q.identifier.includes('|') ? q.identifier.split('|', 2) : [undefined, q.identifier];
      if (!value) throw badRequest('identifier must be system|value or value', 'identifier');
      identifier = { system: system || undefined, value };
    }
    if (!DEFINITIONAL_TYPES.has(type) && !patient && !identifier && !q._id) {
      throw badRequest(`A search of ${type} needs patient (or subject), _id or identifier: it is patient data`, 'patient');
    }
    const count = Math.min(intParam(q._count, '_count', DEFAULT_COUNT, Number.MAX_SAFE_INTEGER), MAX_COUNT);
    const offset = intParam(q._offset, '_offset', 0, Number.MAX_SAFE_INTEGER);
    const definitional = DEFINITIONAL_RESOURCES.filter(
      (r) => r.resourceType === type && !patient && !identifier && (!q._id || r.id === q._id),
    );
    const found: { total: number; resources: Resource[] } =
      type === 'AuditEvent'
        ? await guardDatabase(() => searchAuditEvents(requestDb(deps, res), { patient, id: q._id, count, offset }))
        : q._id
          ? await guardDatabase(async () => {
              const one = await readResource(requestDb(deps, res), type, q._id as string);
              const matches = one && (!patient || patientOfResource(one) === patient);
              return { total: matches ? 1 : 0, resources: matches && offset === 0 ? [one] : [] };
            })
          : await guardDatabase(() => searchResources(requestDb(deps, res), type, { patient, identifier, count, offset }));
    // A search without a patient (by identifier or _id) is audited for each patient it found.
    if (!patient) noteAuditRead(res, { patients: found.resources.map(patientOfResource) });
    const total = found.total + definitional.length;
    const page = [...(offset === 0 ? definitional : []), ...found.resources].slice(0, Math.max(count, 0));
    const pageUrl = (at: number): string => {
      const params = new URLSearchParams();
      for (const [name, value] of Object.entries(q))
        if (value !== undefined && name !== '_offset' && name !== '_count') params.set(name, value);
      params.set('_count', String(count));
      params.set('_offset', String(at));
      return `${base}/${type}?${params.toString()}`;
    };
    const nextUrl = count > 0 && offset + count < found.total ? pageUrl(offset + count) : undefined;
    sendResource(req, res, 200, searchsetBundle(page, base, pageUrl(offset), { total, nextUrl }));
  });

  return router;
}
