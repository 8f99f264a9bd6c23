import { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from 'zod-openapi';
import { ReconcileRequest, ReconcileStarted, ReconciliationReport, SyncStatusResponse } from './admin';
import { CourseRequest, DosingSessionRequest, FollowUpCompleteRequest, GoalsOfCareRequest, StopRequest } from './course';
import {
  AnyResourceSchema,
  BundleSchema,
  CourseCreatedResponse,
  DeadLetterView,
  DeadLettersResponse,
  DosingSessionResponse,
  FollowUpCompletedResponse,
  GoalsOfCareResponse,
  HealthResponse,
  OperationOutcomeSchema,
  ReadyResponse,
  ReviewResponse,
  ScreeningResponse,
  StopResponse,
} from './responses';
import { ReviewRequest, ScreeningRequest } from './screening';
import { MeasureRequest, MeasureResponse, OutcomesResponse } from './measures';
import { CourseDetailView } from './course-detail';
import { AlertAcknowledgeRequest, AlertList, AlertListQuery, AlertResolveRequest, AlertView } from './alerts';

const JSON_TYPES = ['application/json'] as const;
const FHIR_TYPES = ['application/fhir+json', 'application/json'] as const;

const content = (schema: z.ZodType, types: readonly string[] = JSON_TYPES) => Object.fromEntries(types.map((t) => [t, { schema }]));

const errors = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [String(s), { description: ERROR_TEXT[s] ?? 'Error', content: content(OperationOutcomeSchema, FHIR_TYPES) }]),
  );

const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid input; `issue[].expression` names the field',
  401: 'No token, or not a valid one (AUTH_MODE=jwt); `WWW-Authenticate` says why',
  403: "The token lacks this route's scope, or its tenant is not served here",
  404: 'Unknown id',
  405: 'Another method is allowed here; `Allow` lists them',
  408: 'The request (headers or body) did not arrive in time',
  409: 'The workflow forbids it now, or the Idempotency-Key was used with another body or on another endpoint',
  413: 'Body too large',
  415: 'Content-Type is not JSON',
  429: 'Too many requests from this client; `Retry-After` says when to try again',
  431: 'Request line and headers too large',
  503: 'A dependency is down; the request was not accepted',
};

/**
 * What any route behind the token check may answer with AUTH_MODE=jwt: no or a bad token,
 * a token without the scope, the rate limit, and the issuer's keys unreadable (503).
 */
const SECURED = [401, 403, 429, 503] as const;
/** A command's errors: the body, the Idempotency-Key, and a store or queue that is down (503: nothing accepted). */
const COMMAND = [400, 408, 409, 413, 415, ...SECURED] as const;

const idempotencyKey = z.string().min(1).max(255).optional().meta({
  description:
    'Names one request: replays within 24 hours with the same body return the first response byte for byte and do nothing again; the same key with another body, or on another endpoint, is 409. Concurrent requests with one key give one result. Visible ASCII only.',
});

const post = (
  summary: string,
  body: z.ZodType,
  status: '200' | '201',
  response: z.ZodType,
  extra: Partial<ZodOpenApiOperationObject> = {},
): ZodOpenApiOperationObject => ({
  summary,
  requestParams: { header: z.object({ 'Idempotency-Key': idempotencyKey }) },
  requestBody: { required: true, content: content(body) },
  ...extra,
  // A command on a path id (a course, a follow-up) also answers 404 for an id it does not know.
  responses: {
    [status]: { description: summary, content: content(response) },
    ...errors(...COMMAND, ...(extra.requestParams?.path ? [404] : [])),
  },
});

const idParam = (name: string) => ({ path: z.object({ [name]: z.string().meta({ description: 'Opaque id' }) }) });

/**
 * The routes the service implements, described from the same zod schemas that validate
 * requests, so the document cannot drift from the behaviour.
 */
export const API_PATHS: ZodOpenApiPathsObject = {
  '/v1/screenings': {
    post: post('Record a KAP screening and evaluate it', ScreeningRequest, '201', ScreeningResponse, {
      operationId: 'createScreening',
      tags: ['screening'],
    }),
  },
  '/v1/screenings/{id}/review': {
    post: post('Record the clinician review of a needs-review screening', ReviewRequest, '200', ReviewResponse, {
      operationId: 'reviewScreening',
      tags: ['screening'],
      requestParams: { path: idParam('id').path, header: z.object({ 'Idempotency-Key': idempotencyKey }) },
    }),
  },
  '/v1/courses': {
    post: post('Start a KAP course from an eligible or approved screening', CourseRequest, '201', CourseCreatedResponse, {
      operationId: 'createCourse',
      tags: ['course'],
    }),
  },
  '/v1/courses/{id}': {
    get: {
      operationId: 'getCourse',
      summary: 'Course status: phase, sessions, follow-ups, goals and the EHR sync state of each resource',
      tags: ['course'],
      requestParams: idParam('id'),
      responses: { '200': { description: 'The course', content: content(CourseDetailView) }, ...errors(400, 404, ...SECURED) },
    },
  },
  '/fhir/R4/metadata': {
    get: {
      operationId: 'getCapabilityStatement',
      summary: 'CapabilityStatement',
      tags: ['fhir'],
      // Public; the per-address limit on refused requests still applies.
      responses: { '200': { description: 'CapabilityStatement', content: content(AnyResourceSchema, FHIR_TYPES) }, ...errors(429) },
    },
  },
  '/fhir/R4/QuestionnaireResponse': {
    post: post('Record a screening as a completed kap-screening QuestionnaireResponse', AnyResourceSchema, '201', ScreeningResponse, {
      operationId: 'createQuestionnaireResponse',
      tags: ['fhir'],
      requestBody: { required: true, content: content(AnyResourceSchema, FHIR_TYPES) },
    }),
  },
  '/fhir/R4/{type}': {
    get: {
      operationId: 'searchFhirResources',
      summary:
        'Search the resources this adapter produced, by `patient` (Patient/id), `identifier` (system|value) or `_id`; patient data needs one of them. ' +
        'Pages hold at most 100 entries (`_count`), with a `next` link to the following page (`_offset`)',
      tags: ['fhir'],
      requestParams: {
        path: z.object({ type: z.string() }),
        query: z.object({
          patient: z.string().optional(),
          subject: z.string().optional(),
          identifier: z.string().optional(),
          _id: z.string().optional(),
          _count: z.string().optional(),
          _offset: z.string().optional(),
        }),
      },
      responses: { '200': { description: 'searchset Bundle', content: content(BundleSchema, FHIR_TYPES) }, ...errors(400, ...SECURED) },
    },
  },
  '/fhir/R4/{type}/{id}': {
    get: {
      operationId: 'readFhirResource',
      summary: 'Read a resource (including Questionnaire/kap-screening and PlanDefinition/kap-palliative-course)',
      tags: ['fhir'],
      requestParams: { path: z.object({ type: z.string(), id: z.string() }) },
      responses: { '200': { description: 'The resource', content: content(AnyResourceSchema, FHIR_TYPES) }, ...errors(404, ...SECURED) },
    },
  },
  '/health': {
    get: {
      operationId: 'getHealth',
      summary: 'Liveness',
      tags: ['operations'],
      responses: { '200': { description: 'Alive', content: content(HealthResponse) }, ...errors(429) },
    },
  },
  '/ready': {
    get: {
      operationId: 'getReadiness',
      summary: 'Readiness of the database, Redis and the EHR',
      tags: ['operations'],
      responses: {
        '200': { description: 'Ready', content: content(ReadyResponse) },
        ...errors(429),
        '503': { description: 'Not ready', content: content(ReadyResponse) },
      },
    },
  },
};

const alertResponses = (operation: string) => ({
  '200': { description: `${operation}: the alert as it now stands`, content: content(AlertView) },
  ...errors(400, 404, 408, 409, 413, 415, ...SECURED),
});

const withId = (name: string) => ({ path: idParam(name).path, header: z.object({ 'Idempotency-Key': idempotencyKey }) });

/** The course workflow after the start: dosing, follow-ups, goals of care, stop; and dead letters. */
export const WORKFLOW_PATHS: ZodOpenApiPathsObject = {
  '/v1/alerts': {
    get: {
      operationId: 'listAlerts',
      summary: "The tenant's safety alerts in one state (default open), oldest first, each with its history",
      tags: ['alerts'],
      requestParams: { query: AlertListQuery },
      responses: { '200': { description: 'The alerts', content: content(AlertList) }, ...errors(400, ...SECURED) },
    },
  },
  '/v1/alerts/{id}/acknowledge': {
    post: post(
      'Acknowledge a safety alert: it stops escalating; the Flag, a Communication and a Provenance record who and when, and the webhooks are told. The same person again is 200 and changes nothing; 409 once resolved, or acknowledged by someone else',
      AlertAcknowledgeRequest,
      '200',
      AlertView,
      { operationId: 'acknowledgeAlert', tags: ['alerts'], requestParams: withId('id'), responses: alertResponses('acknowledgeAlert') },
    ),
  },
  '/v1/alerts/{id}/resolve': {
    post: post(
      'Resolve a safety alert (acknowledged or not): the Flag becomes inactive; a Communication and a Provenance record who, when and how. 409 once resolved',
      AlertResolveRequest,
      '200',
      AlertView,
      { operationId: 'resolveAlert', tags: ['alerts'], requestParams: withId('id'), responses: alertResponses('resolveAlert') },
    ),
  },
  '/v1/courses/{id}/dosing-sessions': {
    post: post('Record a dosing session; schedules its integration follow-ups', DosingSessionRequest, '201', DosingSessionResponse, {
      operationId: 'createDosingSession',
      tags: ['course'],
      requestParams: withId('id'),
    }),
  },
  '/v1/follow-ups/{id}/complete': {
    post: post(
      'Complete an integration follow-up (on time or after escalation)',
      FollowUpCompleteRequest,
      '200',
      FollowUpCompletedResponse,
      {
        operationId: 'completeFollowUp',
        tags: ['course'],
        requestParams: withId('id'),
      },
    ),
  },
  '/v1/courses/{id}/goals-of-care': {
    post: post('Record a goals-of-care discussion; the CarePlan takes its goals', GoalsOfCareRequest, '201', GoalsOfCareResponse, {
      operationId: 'recordGoalsOfCare',
      tags: ['course'],
      requestParams: withId('id'),
    }),
  },
  '/v1/courses/{id}/stop': {
    post: post('Stop a course; every open follow-up is cancelled with its jobs', StopRequest, '200', StopResponse, {
      operationId: 'stopCourse',
      tags: ['course'],
      requestParams: withId('id'),
    }),
  },
  '/v1/courses/{id}/measures': {
    post: post(
      'Record PHQ-9 and/or GAD-7 during or after a course; PHQ-9 item 9 above 0 raises the phq9-self-harm alert (a safety Flag and an urgent Communication to the care team)',
      MeasureRequest,
      '201',
      MeasureResponse,
      { operationId: 'recordMeasure', tags: ['course'], requestParams: withId('id') },
    ),
  },
  '/v1/courses/{id}/outcomes': {
    get: {
      summary:
        'PHQ-9 and GAD-7 totals over the course with severity bands: the screening (baseline) first, then every measure in time order; change = last - baseline',
      operationId: 'getCourseOutcomes',
      tags: ['course'],
      requestParams: idParam('id'),
      responses: { '200': { description: 'The outcomes', content: content(OutcomesResponse) }, ...errors(400, 404, ...SECURED) },
    },
  },
  '/courses/{id}': {
    get: {
      summary:
        "The clinicians' course page (HTML): safety alerts, timeline, vitals against the alert threshold, PHQ-9/GAD-7 over their severity bands. The page itself holds no data and needs no token; it asks for one when the API requires it and keeps it in memory only.",
      tags: ['course'],
      requestParams: idParam('id'),
      operationId: 'getCoursePage',
      security: [{}],
      // The page is a shell for any id (its data requests answer 404); only a path with control characters is refused.
      responses: { '200': { description: 'The page', content: { 'text/html': { schema: z.string() } } }, ...errors(400) },
    },
  },
  '/v1/admin/dead-letters': {
    get: {
      operationId: 'listDeadLetters',
      summary: 'Work the queues gave up on (EHR writes, webhooks), with the last error',
      tags: ['operations'],
      responses: { '200': { description: 'Dead letters', content: content(DeadLettersResponse) }, ...errors(400, ...SECURED) },
    },
  },
  '/v1/admin/dead-letters/{id}/redrive': {
    post: {
      operationId: 'redriveDeadLetter',
      summary: 'Send a dead letter again once its cause is fixed',
      tags: ['operations'],
      requestParams: withId('id'),
      responses: {
        '200': { description: 'Queued again', content: content(z.looseObject({ redriven: DeadLetterView })) },
        ...errors(...COMMAND, 404),
      },
    },
  },
  '/v1/ehr-notifications': {
    post: post(
      "The EHR's FHIR Subscription notification: R4 backport (a history Bundle, first entry the SubscriptionStatus Parameters; handshake and heartbeat change nothing) or classic R4 rest-hook (the changed Patient or Encounter itself, or no body: a ping). With EHR_SUBSCRIPTION_SECRET set, X-Signature (hex HMAC-SHA256 of the body) is required (401 without it)",
      AnyResourceSchema,
      '200',
      z.looseObject({
        status: z.enum(['acknowledged', 'accepted', 'duplicate']),
        type: z.string(),
        notificationId: z.string().optional(),
        events: z.number().int().optional(),
      }),
      {
        operationId: 'receiveEhrNotification',
        tags: ['operations'],
        requestBody: { required: false, content: content(AnyResourceSchema, FHIR_TYPES) },
      },
    ),
  },
  '/v1/admin/inbound-messages': {
    get: {
      operationId: 'listInboundMessages',
      summary:
        'What the hospital sent (HL7 v2 messages, FHIR notifications) and what became of it; rejected ones wait here for an operator',
      tags: ['operations'],
      requestParams: {
        query: z.object({
          status: z.enum(['accepted', 'ignored', 'rejected', 'processed']).optional(),
          limit: z.string().optional(),
          content: z.enum(['true', 'false']).optional().meta({ description: 'true: include the messages themselves (patient data)' }),
        }),
      },
      responses: {
        '200': {
          description: 'Inbound messages, newest first',
          content: content(z.looseObject({ inboundMessages: z.array(z.looseObject({})) })),
        },
        ...errors(400, ...SECURED),
      },
    },
  },
  '/v1/operator/unrouted-messages': {
    get: {
      operationId: 'listUnroutedMessages',
      summary:
        "HL7 v2 messages whose sender no tenant claims: refused (AR) and kept for the deployment's operator (scope kap/operator), never in a tenant's inbound messages",
      tags: ['operations'],
      requestParams: {
        query: z.object({
          limit: z.string().optional(),
          content: z.enum(['true', 'false']).optional().meta({ description: 'true: include the messages themselves (patient data)' }),
        }),
      },
      responses: {
        '200': {
          description: 'Unrouted messages, newest first',
          content: content(z.looseObject({ unroutedMessages: z.array(z.looseObject({})) })),
        },
        ...errors(400, ...SECURED),
      },
    },
  },
  '/v1/operator/audit-events': {
    get: {
      operationId: 'listDeploymentAuditEvents',
      summary:
        "The deployment's own audit record (kap/operator): refused tokens (401), counted per minute by the client the token claims (unverified), address and reason, as AuditEvents; never the token",
      tags: ['operations'],
      requestParams: { query: z.object({ limit: z.string().optional() }) },
      responses: {
        '200': {
          description: 'A searchset Bundle of AuditEvents, newest first',
          content: content(z.looseObject({ resourceType: z.literal('Bundle'), entry: z.array(z.looseObject({})) })),
        },
        ...errors(400, ...SECURED),
      },
    },
  },
  '/v1/admin/sync-status': {
    get: {
      operationId: 'getSyncStatus',
      summary: 'Resources by EHR sync state (pending, synced, dead) and the oldest pending age, per tenant',
      tags: ['operations'],
      responses: { '200': { description: 'Sync status', content: content(SyncStatusResponse) }, ...errors(400, ...SECURED) },
    },
  },
  '/v1/admin/reconcile': {
    post: {
      operationId: 'startReconciliation',
      summary: 'Read back from the EHR what the adapter believes is there; missing or different resources are queued again',
      tags: ['operations'],
      requestParams: { header: z.object({ 'Idempotency-Key': idempotencyKey }) },
      requestBody: { content: content(ReconcileRequest) },
      responses: {
        '202': { description: 'Started; the report is at /v1/admin/reconcile/{reconciliationId}', content: content(ReconcileStarted) },
        ...errors(...COMMAND, 404),
      },
    },
  },
  '/v1/admin/reconcile/{id}': {
    get: {
      operationId: 'getReconciliation',
      summary: 'A reconciliation: per resource in-ehr, missing or different',
      tags: ['operations'],
      requestParams: { path: idParam('id').path },
      responses: { '200': { description: 'The report', content: content(ReconciliationReport) }, ...errors(404, ...SECURED) },
    },
  },
};

export interface OpenApiOptions {
  readonly serverUrl?: string;
  readonly version?: string;
  readonly paths?: ZodOpenApiPathsObject;
}

/** The OpenAPI 3.1 document served at `/openapi.json`. */
export function buildOpenApiDocument(options: OpenApiOptions = {}): ReturnType<typeof createDocument> {
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'KAP FHIR adapter',
      version: options.version ?? '1.0.0',
      description:
        'REST and FHIR R4 interface of the ketamine-assisted psychotherapy (KAP) palliative-care adapter. ' +
        'Every error is a FHIR OperationOutcome. A 201 or 202 means the data is stored durably; EHR sync follows in jobs.',
    },
    servers: options.serverUrl ? [{ url: options.serverUrl }] : undefined,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            "With AUTH_MODE=jwt, a JWT from the deployment's token issuer (its token endpoint is in /.well-known/smart-configuration), " +
            "signed RS256, RS384, ES256 or ES384, for this API's audience. Scopes (claim `scope`): " +
            "`kap/v1.read` for GETs under /v1, `kap/v1.write` for POSTs under /v1, `kap/admin` for /v1/admin, /admin/queues and /metrics, `kap/operator` (the deployment's operator, not a tenant's) for /v1/operator; " +
            'on /fhir/R4 SMART v2 scopes `system/<Type>.<cruds>` or `user/<Type>.<cruds>` (`*` for every type; read needs r, search s, ' +
            'POST QuestionnaireResponse c; SMART v1 .read/.write/.* are taken as .rs/.cud/.cruds). No token: 401; a token without the scope: 403. ' +
            'With AUTH_MODE=none (loopback only) no token is needed.',
        },
      },
    },
    security: [{ bearer: [] }, {}],
    paths: options.paths ?? { ...API_PATHS, ...WORKFLOW_PATHS },
  });
}
