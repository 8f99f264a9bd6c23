/**
 * The schema, as an append-only list. Each migration is a list of single statements
 * because PGlite's parameterised query runs one statement at a time.
 */

/** One schema change; `version` orders them and is recorded once applied. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
  /**
   * Run again at every start once the migration is applied: what a restore can leave out
   * (roles and grants, which `pg_dump --no-owner --no-privileges` drops) but the schema needs.
   */
  readonly everyStart?: readonly string[];
}

const FOLLOW_UP_STATUS_CHECK = "status IN ('scheduled', 'completed', 'escalated', 'cancelled')";

/**
 * Tables whose every row belongs to one tenant (a hospital). The rest are the deployment's:
 * `deployment` (who this database is), `schema_migrations`, and `sync_leases` (workers'
 * coordination, keyed by patient ids that are already distinct per tenant).
 */
export const TENANT_TABLES = [
  'resources',
  'resource_history',
  'patient_identifiers',
  'screenings',
  'courses',
  'dosing_sessions',
  'follow_ups',
  'goals_of_care',
  'course_measures',
  'idempotency_keys',
  'outbox',
  'sync_state',
  'reconciliations',
  'inbound_messages',
  'patient_links',
  'audit_events',
] as const;

/** The role a tenant's transactions run as: never a superuser, owner or BYPASSRLS, so the policies hold. */
export const TENANT_ROLE = 'kap_tenant';

/** The tenant a transaction works for, set by `forTenant` with `set_config(..., true)`; NULL or '' when unset. */
const CURRENT_TENANT = "current_setting('kap.tenant', true)";

/**
 * The tenant a scoped transaction works for, as SQL; NULL without one, so a comparison with
 * it finds nothing. Lookups by a natural key that is unique only per tenant compare with it.
 */
export const SCOPED_TENANT = `NULLIF(${CURRENT_TENANT}, '')`;

/**
 * What migrations 12 and 13 made the column default: the deployment's own writes went to the
 * default tenant. Kept only so those released migrations stay as they ran; migration 20 replaces it.
 */
const LEGACY_WRITING_TENANT = `COALESCE(NULLIF(${CURRENT_TENANT}, ''), 'default')`;

/**
 * The tenant a new row belongs to, as the column default after migration 20: the scoped
 * transaction's, or an error naming the table. A write through the deployment's handle (no
 * tenant set) fails loudly rather than landing in some tenant's rows.
 */
const WRITING_TENANT_FUNCTION = `CREATE OR REPLACE FUNCTION kap_writing_tenant(target text) RETURNS text
  LANGUAGE plpgsql STABLE AS $$
  DECLARE
    tenant text := NULLIF(current_setting('kap.tenant', true), '');
  BEGIN
    IF tenant IS NULL THEN
      RAISE EXCEPTION 'a row of % needs a tenant: write it through forTenant, not the deployment''s handle', target
        USING ERRCODE = '42501';
    END IF;
    RETURN tenant;
  END $$`;

/**
 * A tenant's rows, and only these, exist for a transaction scoped to it; a row it writes
 * must be its own. The deployment's role (whoever ran the migration: the tables' owner)
 * still sees every row while no tenant is set, for the relay, sweeps and metrics, since
 * FORCE puts the owner under the policies too.
 */
function tenantOwned(table: string): string[] {
  return [
    // Rows from before tenants belong to the one tenant there was.
    `ALTER TABLE ${table} ADD COLUMN tenant_id text NOT NULL DEFAULT 'default'`,
    // Inserts need not name it: a scoped transaction's rows are its tenant's (migration 20
    // makes a write without a tenant fail; until then it went to the default tenant).
    `ALTER TABLE ${table} ALTER COLUMN tenant_id SET DEFAULT ${LEGACY_WRITING_TENANT}`,
    `ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`,
    `ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`,
    `CREATE POLICY tenant_rows ON ${table} USING (tenant_id = ${CURRENT_TENANT}) WITH CHECK (tenant_id = ${CURRENT_TENANT})`,
    `CREATE POLICY deployment_rows ON ${table} TO CURRENT_USER USING (COALESCE(${CURRENT_TENANT}, '') = '')`,
  ];
}

/**
 * The tenant role exists and this database user may switch to it. Roles are cluster-wide
 * and many schemas (tests, deployments) may migrate at once: it is created only if missing,
 * and a concurrent creator's success is taken as ours. A database user without CREATEROLE
 * needs it created (and granted to it) beforehand.
 */
const TENANT_ROLE_READY = `DO $$
       BEGIN
         IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${TENANT_ROLE}') THEN
           BEGIN
             CREATE ROLE ${TENANT_ROLE} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
           EXCEPTION WHEN duplicate_object OR unique_violation THEN
             NULL;
           END;
         END IF;
         IF NOT pg_has_role(current_user, '${TENANT_ROLE}', 'MEMBER') THEN
           EXECUTE format('GRANT ${TENANT_ROLE} TO %I', current_user);
         END IF;
       END $$`;

/**
 * The tenant role reaches this schema's tables (the policies decide which rows), and
 * those later migrations create; the deployment's own tables it may only read.
 */
const TENANT_GRANTS: readonly string[] = [
  `DO $$
   BEGIN
     EXECUTE format('GRANT USAGE ON SCHEMA %I TO ${TENANT_ROLE}', current_schema());
     EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO ${TENANT_ROLE}', current_schema());
     EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO ${TENANT_ROLE}', current_schema());
     EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${TENANT_ROLE}', current_schema());
     EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO ${TENANT_ROLE}', current_schema());
   END $$`,
  `REVOKE INSERT, UPDATE, DELETE ON deployment, schema_migrations FROM ${TENANT_ROLE}`,
];

/**
 * The tenant role's grants on every table (migration 12, again at each start) do not reach the
 * deployment's messages: no tenant transaction reads them, whatever its policies.
 */
const UNROUTED_PRIVATE: readonly string[] = [`REVOKE ALL ON unrouted_messages FROM ${TENANT_ROLE}`];

/**
 * The rejected messages the MLLP listener stored before migration 20 because no tenant claimed
 * their MSH-4 (packages/inbound/src/tenant-route.ts).
 */
const UNROUTED_BEFORE = `status = 'rejected' AND (problem LIKE 'MSH-4 sending facility % is not assigned to a tenant here%' OR problem LIKE 'MSH-4 (sending facility) is missing%')`;

/** Every migration, oldest first. Append only. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'fhir resources, history and patient identifiers',
    statements: [
      `CREATE TABLE resources (
        resource_type text NOT NULL,
        id text NOT NULL,
        version_id integer NOT NULL,
        content jsonb NOT NULL,
        patient_id text NULL,
        last_updated timestamptz NOT NULL,
        PRIMARY KEY (resource_type, id)
      )`,
      'CREATE INDEX resources_type_updated_idx ON resources (resource_type, last_updated, id)',
      'CREATE INDEX resources_patient_idx ON resources (patient_id, last_updated, id) WHERE patient_id IS NOT NULL',
      "CREATE INDEX resources_identifier_idx ON resources USING gin ((content -> 'identifier') jsonb_path_ops)",
      `CREATE TABLE resource_history (
        resource_type text NOT NULL,
        id text NOT NULL,
        version_id integer NOT NULL,
        content jsonb NOT NULL,
        last_updated timestamptz NOT NULL,
        PRIMARY KEY (resource_type, id, version_id)
      )`,
      `CREATE TABLE patient_identifiers (
        system text NOT NULL,
        value text NOT NULL,
        patient_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (system, value)
      )`,
    ],
  },
  {
    version: 2,
    name: 'kap workflow: screenings, courses, dosing sessions, follow-ups, goals of care',
    statements: [
      `CREATE TABLE screenings (
        id text PRIMARY KEY,
        patient_id text NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('eligible', 'needs-review', 'contraindicated')),
        reasons jsonb NOT NULL DEFAULT '[]',
        resource_refs jsonb NOT NULL DEFAULT '{}',
        performed_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        review jsonb NULL
      )`,
      'CREATE INDEX screenings_patient_idx ON screenings (patient_id)',
      `CREATE TABLE courses (
        id text PRIMARY KEY,
        screening_id text NOT NULL REFERENCES screenings (id),
        patient_id text NOT NULL,
        care_plan_id text NOT NULL,
        start_date date NOT NULL,
        stopped_reason text NULL CHECK (stopped_reason IN ('completed', 'withdrawn', 'deceased', 'discharged')),
        stopped_at timestamptz NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      // One course per screening: a second start is refused, even from concurrent requests.
      'CREATE UNIQUE INDEX courses_screening_idx ON courses (screening_id)',
      'CREATE INDEX courses_patient_idx ON courses (patient_id)',
      `CREATE TABLE dosing_sessions (
        id text PRIMARY KEY,
        course_id text NOT NULL REFERENCES courses (id),
        session_number integer NOT NULL CHECK (session_number > 0),
        start_time timestamptz NOT NULL,
        end_time timestamptz NOT NULL,
        dose_level text NOT NULL,
        resource_refs jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (course_id, session_number)
      )`,
      `CREATE TABLE follow_ups (
        id text PRIMARY KEY,
        course_id text NOT NULL REFERENCES courses (id),
        session_number integer NOT NULL,
        sequence integer NOT NULL,
        due_by timestamptz NOT NULL,
        status text NOT NULL DEFAULT 'scheduled' CHECK (${FOLLOW_UP_STATUS_CHECK}),
        task_id text NULL,
        completed_at timestamptz NULL,
        note text NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (course_id, session_number, sequence)
      )`,
      "CREATE INDEX follow_ups_due_idx ON follow_ups (due_by) WHERE status = 'scheduled'",
      `CREATE TABLE goals_of_care (
        id text PRIMARY KEY,
        course_id text NOT NULL REFERENCES courses (id),
        discussed_at timestamptz NOT NULL,
        resource_refs jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      'CREATE INDEX goals_of_care_course_idx ON goals_of_care (course_id)',
    ],
  },
  {
    version: 3,
    name: 'delivery: idempotency keys, outbox, ehr sync state',
    statements: [
      `CREATE TABLE idempotency_keys (
        scope text NOT NULL,
        key text NOT NULL,
        request_hash text NOT NULL,
        status integer NOT NULL,
        body jsonb NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope, key)
      )`,
      'CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at)',
      `CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        topic text NOT NULL,
        patient_id text NULL,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        available_at timestamptz NOT NULL DEFAULT now(),
        dispatched_at timestamptz NULL,
        completed_at timestamptz NULL,
        attempts integer NOT NULL DEFAULT 0,
        last_error text NULL
      )`,
      'CREATE INDEX outbox_open_idx ON outbox (id) WHERE completed_at IS NULL',
      `CREATE TABLE sync_state (
        resource_type text NOT NULL,
        id text NOT NULL,
        local_version integer NOT NULL,
        synced_version integer NULL,
        ehr_id text NULL,
        ehr_version text NULL,
        status text NOT NULL CHECK (status IN ('pending', 'synced', 'failed')),
        last_error text NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (resource_type, id)
      )`,
    ],
  },
  {
    version: 4,
    name: 'dead letters and per-patient sync leases',
    statements: [
      // A job the queue gave up on: kept, listed and re-driven over the API, never re-dispatched by the relay.
      'ALTER TABLE outbox ADD COLUMN dead_at timestamptz NULL',
      'CREATE INDEX outbox_dead_idx ON outbox (id) WHERE dead_at IS NOT NULL',
      // One EHR writer per patient at a time, across worker processes: conditional create is not race-safe on real servers.
      `CREATE TABLE sync_leases (
        lease_key text PRIMARY KEY,
        holder text NOT NULL,
        expires_at timestamptz NOT NULL
      )`,
    ],
  },
  {
    version: 5,
    name: 'per-course follow-up offsets',
    statements: ['ALTER TABLE courses ADD COLUMN follow_up_offsets jsonb NULL'],
  },
  {
    version: 6,
    name: 'deployment identity, per-dispatch job ids and reconciliations',
    statements: [
      // Who this database is: queue keys and the Redis fingerprint derive from it, so a fresh
      // install never reads another install's jobs as its own.
      `CREATE TABLE deployment (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      'INSERT INTO deployment (singleton) VALUES (true) ON CONFLICT DO NOTHING',
      // A row's identity in job payloads: unlike the serial, never reused by another database or a restore.
      'ALTER TABLE outbox ADD COLUMN key uuid NOT NULL DEFAULT gen_random_uuid()',
      'CREATE UNIQUE INDEX outbox_key_idx ON outbox (key)',
      // The BullMQ job ids of the row's latest dispatch, fresh at every dispatch, so no job in Redis can be taken for it.
      "ALTER TABLE outbox ADD COLUMN job_ids jsonb NOT NULL DEFAULT '[]'::jsonb",
      'CREATE INDEX outbox_open_topic_idx ON outbox (topic, patient_id) WHERE completed_at IS NULL',
      `CREATE TABLE reconciliations (
        id uuid PRIMARY KEY,
        patient_id text NULL,
        requested_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz NULL,
        error text NULL,
        results jsonb NOT NULL DEFAULT '[]'::jsonb
      )`,
      "CREATE INDEX sync_state_pending_idx ON sync_state (resource_type, id) WHERE status = 'pending'",
      // New work wakes the relay at once, on commit; its poll is the fallback. The payload names
      // the schema, so deployments sharing a PostgreSQL server wake only their own relay.
      `CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN PERFORM pg_notify('kap_outbox', TG_TABLE_SCHEMA); RETURN NULL; END $$`,
      'CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()',
    ],
  },
  {
    version: 7,
    name: 'sync state not-sent: resource types the EHR does not take',
    statements: [
      // Kept in the adapter and readable on its FHIR face, but never pending forever.
      'ALTER TABLE sync_state DROP CONSTRAINT IF EXISTS sync_state_status_check',
      `ALTER TABLE sync_state ADD CONSTRAINT sync_state_status_check CHECK (status IN ('pending', 'synced', 'failed', 'not-sent'))`,
    ],
  },
  {
    version: 8,
    name: 'idempotency keys name one request: its endpoint, and the response bytes as sent',
    statements: [
      // The endpoint a key was first used on: the same key on another endpoint is 409 (docs/api.md#idempotency).
      'ALTER TABLE idempotency_keys ADD COLUMN endpoint text NULL',
      // The response body exactly as sent, so a replay is byte for byte (jsonb reorders keys).
      'ALTER TABLE idempotency_keys ADD COLUMN response text NULL',
      // Its headers that belong to the response (Location), sent again with a replay.
      'ALTER TABLE idempotency_keys ADD COLUMN headers jsonb NULL',
    ],
  },
  {
    version: 9,
    name: 'course measures: PHQ-9 and GAD-7 after the screening',
    statements: [
      `CREATE TABLE course_measures (
        id text PRIMARY KEY,
        course_id text NOT NULL REFERENCES courses (id),
        measured_at timestamptz NOT NULL,
        timepoint text NULL CHECK (timepoint IN ('after-session-1', 'after-session-2', 'end-of-course', 'follow-up')),
        phq9_total integer NULL,
        gad7_total integer NULL,
        self_harm boolean NOT NULL DEFAULT false,
        resource_refs jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      'CREATE INDEX course_measures_course_idx ON course_measures (course_id, measured_at, id)',
    ],
  },
  {
    version: 10,
    name: 'inbound hospital messages (HL7 v2 ADT, FHIR notifications) and patient merges',
    statements: [
      // Every message the hospital sent, stored before it is acknowledged; accepted ones are
      // unique by sender and control id (dedupe_key), so a resend is acknowledged and applied once.
      `CREATE TABLE inbound_messages (
        id bigserial PRIMARY KEY,
        channel text NOT NULL CHECK (channel IN ('hl7v2', 'fhir-notification')),
        sender text NULL,
        control_id text NULL,
        message_type text NULL,
        dedupe_key text NULL UNIQUE,
        content text NOT NULL,
        status text NOT NULL CHECK (status IN ('accepted', 'ignored', 'rejected', 'processed')),
        ack_code text NULL,
        problem text NULL,
        outcome jsonb NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        processed_at timestamptz NULL
      )`,
      'CREATE INDEX inbound_messages_status_idx ON inbound_messages (status, id)',
      // A40: the merged patient's id now answers for the survivor.
      `CREATE TABLE patient_links (
        merged_id text PRIMARY KEY,
        survivor_id text NOT NULL,
        linked_at timestamptz NOT NULL DEFAULT now()
      )`,
    ],
  },
  {
    version: 11,
    name: 'audit trail: an AuditEvent for every access to patient data',
    statements: [
      // Append-only and high-volume, so apart from the resources table and its history:
      // an AuditEvent is never revised, and a search is by patient and time.
      `CREATE TABLE audit_events (
        id text PRIMARY KEY,
        recorded timestamptz NOT NULL,
        patient_id text NULL,
        content jsonb NOT NULL
      )`,
      'CREATE INDEX audit_events_patient_idx ON audit_events (patient_id, recorded, id)',
      'CREATE INDEX audit_events_recorded_idx ON audit_events (recorded, id)',
      // A record of who saw what is worth nothing if it can be edited afterwards.
      `CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_events is append-only';
      END
      $$`,
      'CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()',
    ],
  },
  {
    version: 12,
    name: 'tenants: every tenant-owned row carries its tenant, isolated by row-level security',
    statements: [
      TENANT_ROLE_READY,
      ...TENANT_TABLES.flatMap(tenantOwned),
      // Natural keys are per tenant: the same hospital identifier, idempotency key or
      // message control id in two tenants is two things. Surrogate ids (UUIDs, and patient
      // ids keyed by tenant) stay unique across the database, so foreign keys are unchanged.
      'ALTER TABLE patient_identifiers DROP CONSTRAINT patient_identifiers_pkey',
      'ALTER TABLE patient_identifiers ADD PRIMARY KEY (tenant_id, system, value)',
      'ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey',
      'ALTER TABLE idempotency_keys ADD PRIMARY KEY (tenant_id, scope, key)',
      'ALTER TABLE inbound_messages DROP CONSTRAINT inbound_messages_dedupe_key_key',
      'CREATE UNIQUE INDEX inbound_messages_dedupe_idx ON inbound_messages (tenant_id, dedupe_key)',
      ...TENANT_GRANTS,
    ],
    everyStart: [TENANT_ROLE_READY, ...TENANT_GRANTS],
  },
  {
    version: 13,
    name: 'safety alerts: who acknowledged or resolved each, and its escalations',
    statements: [
      // One row per alert (a self-harm Flag or an in-session blood-pressure Flag): its state,
      // and its history as the page and GET /v1/alerts show it. The FHIR record is the Flag,
      // the Communications and the Provenance; this is what the loop is decided from.
      `CREATE TABLE safety_alerts (
        id uuid PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('phq9-self-harm', 'session-blood-pressure')),
        patient_id text NOT NULL,
        course_id uuid NULL,
        screening_id uuid NULL,
        flag_id text NOT NULL,
        communication_id text NOT NULL,
        raised_at timestamptz NOT NULL,
        status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
        acknowledged_by text NULL,
        acknowledged_at timestamptz NULL,
        resolved_by text NULL,
        resolved_at timestamptz NULL,
        escalations integer NOT NULL DEFAULT 0,
        history jsonb NOT NULL DEFAULT '[]'::jsonb
      )`,
      'CREATE UNIQUE INDEX safety_alerts_flag_idx ON safety_alerts (flag_id)',
      'CREATE INDEX safety_alerts_course_idx ON safety_alerts (course_id)',
      'CREATE INDEX safety_alerts_screening_idx ON safety_alerts (screening_id)',
      ...tenantOwned('safety_alerts'),
      'CREATE INDEX safety_alerts_status_idx ON safety_alerts (tenant_id, status, raised_at, id)',
      ...TENANT_GRANTS,
    ],
  },
  {
    version: 15,
    name: 'HL7 v2 out: outbox rows found by their MSH-10',
    statements: [
      // Before sending, a message looks for an acknowledged row with its MSH-10 (the same
      // version saved twice): found by index however long the outbox grows.
      "CREATE INDEX outbox_control_id_idx ON outbox ((payload->>'controlId')) WHERE payload ? 'controlId'",
    ],
  },
  {
    version: 16,
    name: 'sync state waiting-for-patient: the EHR may not create Patients and has not got this one yet',
    statements: [
      'ALTER TABLE sync_state DROP CONSTRAINT IF EXISTS sync_state_status_check',
      `ALTER TABLE sync_state ADD CONSTRAINT sync_state_status_check CHECK (status IN ('pending', 'synced', 'failed', 'not-sent', 'waiting-for-patient'))`,
    ],
  },
  {
    version: 18,
    name: 'sync state: how a resource was sent when it differs from what is stored (a profile claim left out)',
    statements: ['ALTER TABLE sync_state ADD COLUMN sent_note text NULL'],
  },
  {
    version: 19,
    name: 'tenants: a child row and its parent belong to one tenant (composite foreign keys)',
    statements: [
      // Row-level security hides another tenant's parent from a query, but foreign-key checks
      // do not apply it: a course could name another tenant's screening by id. Keys that
      // carry the tenant make the database refuse that, whatever the code does.
      'ALTER TABLE screenings ADD CONSTRAINT screenings_tenant_id_key UNIQUE (tenant_id, id)',
      'ALTER TABLE courses ADD CONSTRAINT courses_tenant_id_key UNIQUE (tenant_id, id)',
      'ALTER TABLE courses DROP CONSTRAINT courses_screening_id_fkey',
      'ALTER TABLE courses ADD CONSTRAINT courses_screening_tenant_fkey FOREIGN KEY (tenant_id, screening_id) REFERENCES screenings (tenant_id, id)',
      ...['dosing_sessions', 'follow_ups', 'goals_of_care', 'course_measures'].flatMap((child) => [
        `ALTER TABLE ${child} DROP CONSTRAINT ${child}_course_id_fkey`,
        `ALTER TABLE ${child} ADD CONSTRAINT ${child}_course_tenant_fkey FOREIGN KEY (tenant_id, course_id) REFERENCES courses (tenant_id, id)`,
      ]),
    ],
  },
  {
    version: 20,
    name: "tenants: a tenant row is written only with a tenant; hospital messages no tenant claims are the deployment's",
    statements: [
      WRITING_TENANT_FUNCTION,
      ...[...TENANT_TABLES, 'safety_alerts'].map(
        (table) => `ALTER TABLE ${table} ALTER COLUMN tenant_id SET DEFAULT kap_writing_tenant('${table}')`,
      ),
      // An HL7 v2 message whose sender no tenant claims is refused (AR) and kept here, for the
      // deployment's operator: not in any tenant's inbound_messages, where that tenant's
      // admins would see another hospital's message.
      `CREATE TABLE unrouted_messages (
        id bigserial PRIMARY KEY,
        channel text NOT NULL CHECK (channel IN ('hl7v2', 'fhir-notification')),
        sender text NULL,
        control_id text NULL,
        message_type text NULL,
        content text NOT NULL,
        ack_code text NULL,
        problem text NULL,
        received_at timestamptz NOT NULL DEFAULT now()
      )`,
      // Those the listener kept before, as the default tenant's, move: their problem is the router's.
      `INSERT INTO unrouted_messages (channel, sender, control_id, message_type, content, ack_code, problem, received_at)
       SELECT channel, sender, control_id, message_type, content, ack_code, problem, received_at FROM inbound_messages
       WHERE ${UNROUTED_BEFORE} ORDER BY id`,
      `DELETE FROM inbound_messages WHERE ${UNROUTED_BEFORE}`,
      ...UNROUTED_PRIVATE,
    ],
    everyStart: UNROUTED_PRIVATE,
  },
  {
    version: 22,
    name: "deployment audit: refused tokens, the deployment's and no tenant's, counted per minute",
    statements: [
      // A refused token is unverified: no tenant it names can be trusted, so its record is the
      // deployment's. One row per client, address and reason a minute, with a count, so a
      // flood of bad tokens adds to counts instead of rows.
      `CREATE TABLE deployment_audit (
        window_start timestamptz NOT NULL,
        kind text NOT NULL,
        client_id text NOT NULL DEFAULT '',
        address text NOT NULL DEFAULT '',
        reason text NOT NULL,
        count integer NOT NULL CHECK (count > 0),
        first_at timestamptz NOT NULL,
        last_at timestamptz NOT NULL,
        PRIMARY KEY (window_start, kind, client_id, address, reason)
      )`,
      'CREATE INDEX deployment_audit_last_idx ON deployment_audit (last_at DESC)',
      // Tables made after the grants are the tenant role's by default privileges: not this one.
      `REVOKE ALL ON deployment_audit FROM ${TENANT_ROLE}`,
    ],
  },
  {
    version: 23,
    name: 'patients: the identifier map is the one way to a Patient; the identifier GIN index goes, as row security never let it be used',
    statements: [
      // A Patient stored without its identifiers mapped (by hand, or a restore) was found by scanning
      // every Patient of the tenant at each new screening: map them once here instead, the earliest
      // Patient holding an identifier winning, as the scan chose.
      `INSERT INTO patient_identifiers (tenant_id, system, value, patient_id)
       SELECT DISTINCT ON (r.tenant_id, i->>'system', i->>'value') r.tenant_id, i->>'system', i->>'value', r.id
       FROM resources r
       CROSS JOIN LATERAL jsonb_array_elements(
         CASE WHEN jsonb_typeof(r.content -> 'identifier') = 'array' THEN r.content -> 'identifier' ELSE '[]'::jsonb END) i
       WHERE r.resource_type = 'Patient' AND i->>'system' IS NOT NULL AND i->>'value' IS NOT NULL
       ORDER BY r.tenant_id, i->>'system', i->>'value', r.last_updated, r.id
       ON CONFLICT (tenant_id, system, value) DO NOTHING`,
      // jsonb containment (@>) is not leakproof, so under row security (every tenant and deployment
      // query) PostgreSQL may not use it as an index condition: the index only cost every write.
      'DROP INDEX IF EXISTS resources_identifier_idx',
    ],
  },
];
