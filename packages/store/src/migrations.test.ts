import type { DeploymentDb } from './db';
import { openDatabase } from './open-database';
import { migrate, MIGRATIONS } from './migrations';
import { openPostgresDb } from './postgres-db';
import { ensurePatient } from './patients';
import { forTenant } from './tenant';
import { TEST_DATABASE_URL, uniqueSchema } from './test-support';

describe('migrations', () => {
  const schema = uniqueSchema('store_migrations');
  const opened: DeploymentDb[] = [];

  afterAll(async () => {
    const admin = await openDatabase({ url: TEST_DATABASE_URL, schema });
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.close();
    await Promise.all(opened.map((db) => db.close()));
  });

  it('lists migrations in strictly increasing order', () => {
    const versions = MIGRATIONS.map((m) => m.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
  });

  it('two processes opening the same new schema at once apply each migration exactly once', async () => {
    const [a, b, c] = await Promise.all([
      openDatabase({ url: TEST_DATABASE_URL, schema, poolSize: 2 }),
      openDatabase({ url: TEST_DATABASE_URL, schema, poolSize: 2 }),
      openDatabase({ url: TEST_DATABASE_URL, schema, poolSize: 2 }),
    ]);
    opened.push(a, b, c);
    const rows = await a.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    const [tables] = await a.query<{ n: number }>('SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1', [
      schema,
    ]);
    expect(tables?.n).toBeGreaterThanOrEqual(12);
  });

  it('is idempotent: migrating again applies nothing', async () => {
    const [db] = opened;
    if (!db) throw new Error('no db');
    await expect(migrate(db, { schema })).resolves.toEqual([]);
  });

  it('applies an appended migration once, then records it', async () => {
    const [db] = opened;
    if (!db) throw new Error('no db');
    const extra = [...MIGRATIONS, { version: 9999, name: 'test only', statements: ['CREATE TABLE test_only (x int)'] }];
    await expect(migrate(db, { schema, migrations: extra })).resolves.toEqual([9999]);
    await expect(migrate(db, { schema, migrations: extra })).resolves.toEqual([]);
  });

  it('rolls back a failing migration completely', async () => {
    const [db] = opened;
    if (!db) throw new Error('no db');
    const broken = [
      ...MIGRATIONS,
      { version: 10000, name: 'half', statements: ['CREATE TABLE half_done (x int)', 'SELECT nonsense FROM nowhere'] },
    ];
    await expect(migrate(db, { schema, migrations: broken })).rejects.toThrow();
    const rows = await db.query("SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'half_done'", [schema]);
    expect(rows).toHaveLength(0);
  });

  it('refuses a schema name that would need quoting', async () => {
    await expect(openDatabase({ url: TEST_DATABASE_URL, schema: 'x; DROP TABLE y' })).rejects.toThrow(/Invalid schema/);
  });
});

describe('migration 20: the tenant of a row, and messages no tenant claims', () => {
  const schema = uniqueSchema('store_migration20');
  let db: DeploymentDb;

  beforeAll(async () => {
    db = openPostgresDb({ url: TEST_DATABASE_URL, schema, poolSize: 2 });
    await migrate(db, { schema, migrations: MIGRATIONS.filter((m) => m.version < 20) });
  });
  afterAll(async () => {
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.close();
  });

  it("moves the HL7 messages kept for want of a tenant to the deployment's table, and then refuses a tenant row written without a tenant", async () => {
    // Before 20, the unscoped handle's rows were the default tenant's, unrouted HL7 among them.
    const insert = `INSERT INTO inbound_messages (channel, sender, control_id, content, status, ack_code, problem) VALUES ('hl7v2', $1, $2, 'MSH|', $3, $4, $5)`;
    await db.query(insert, [
      'EPIC|ELSEWHERE',
      'stray',
      'rejected',
      'AR',
      'MSH-4 sending facility ELSEWHERE is not assigned to a tenant here (HL7_SENDING_FACILITIES)',
    ]);
    await db.query(insert, [
      'EPIC|',
      'no-msh4',
      'rejected',
      'AR',
      'MSH-4 (sending facility) is missing: with several tenants it decides whose message this is',
    ]);
    await db.query(insert, ['EPIC|NORTH', 'garbled', 'rejected', 'AR', 'PID-3 is missing']);
    await db.query(insert, ['EPIC|NORTH', 'fine', 'accepted', 'AA', null]);
    expect(await db.query("SELECT tenant_id FROM inbound_messages WHERE control_id = 'stray'")).toEqual([{ tenant_id: 'default' }]);

    await migrate(db, { schema });
    expect(
      (await db.query<{ control_id: string }>('SELECT control_id FROM unrouted_messages ORDER BY id')).map((r) => r.control_id),
    ).toEqual(['stray', 'no-msh4']);
    expect(
      (await db.query<{ control_id: string }>('SELECT control_id FROM inbound_messages ORDER BY id')).map((r) => r.control_id),
    ).toEqual(['garbled', 'fine']);
    await expect(db.query(insert, ['EPIC|X', 'after', 'accepted', 'AA', null])).rejects.toThrow('a row of inbound_messages needs a tenant');
    // Named explicitly, a tenant's row may still be written by the deployment (a restore, a fix by hand).
    await expect(
      db.query("INSERT INTO reconciliations (id, tenant_id) VALUES ('00000000-0000-4000-8000-000000000020', 'north')"),
    ).resolves.toEqual([]);
  });
});

describe('migration 23: Patients found by the identifier map alone', () => {
  const schema = uniqueSchema('store_migration23');
  let db: DeploymentDb;

  beforeAll(async () => {
    db = openPostgresDb({ url: TEST_DATABASE_URL, schema, poolSize: 2 });
    await migrate(db, { schema, migrations: MIGRATIONS.filter((m) => m.version < 23) });
  });
  afterAll(async () => {
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.close();
  });

  it('maps the identifiers of Patients stored without them, earliest first, and leaves existing mappings alone', async () => {
    const MRN = 'urn:oid:1.2.3.4.mrn';
    const patient = (id: string, identifier: unknown) => JSON.stringify({ resourceType: 'Patient', id, identifier });
    const insert = `INSERT INTO resources (resource_type, id, version_id, content, patient_id, last_updated, tenant_id)
      VALUES ('Patient', $1, 1, $2::jsonb, $1, $3::timestamptz, $4)`;
    await db.query(insert, [
      'older',
      patient('older', [
        { system: MRN, value: 'M-1' },
        { system: 'urn:x', value: 'X-1' },
      ]),
      '2026-01-01T00:00:00Z',
      'north',
    ]);
    // A later Patient with the same MRN in the same tenant: the earlier keeps it, as the scan would have chosen.
    await db.query(insert, ['newer', patient('newer', [{ system: MRN, value: 'M-1' }]), '2026-02-01T00:00:00Z', 'north']);
    // The same MRN in another tenant is that tenant's own patient.
    await db.query(insert, ['south-1', patient('south-1', [{ system: MRN, value: 'M-1' }]), '2026-03-01T00:00:00Z', 'south']);
    // No identifiers, or a malformed one: nothing to map.
    await db.query(insert, ['bare', patient('bare', undefined), '2026-01-01T00:00:00Z', 'north']);
    await db.query(insert, ['odd', patient('odd', { system: MRN, value: 'M-9' }), '2026-01-01T00:00:00Z', 'north']);
    // Already mapped: left as it is.
    await db.query(
      `INSERT INTO patient_identifiers (tenant_id, system, value, patient_id) VALUES ('north', 'urn:x', 'X-1', 'someone-else')`,
    );

    await migrate(db, { schema });
    const rows = await db.query<{ tenant_id: string; system: string; value: string; patient_id: string }>(
      'SELECT tenant_id, system, value, patient_id FROM patient_identifiers ORDER BY tenant_id, system, value',
    );
    expect(rows).toEqual([
      { tenant_id: 'north', system: MRN, value: 'M-1', patient_id: 'older' },
      { tenant_id: 'north', system: 'urn:x', value: 'X-1', patient_id: 'someone-else' },
      { tenant_id: 'south', system: MRN, value: 'M-1', patient_id: 'south-1' },
    ]);
    expect(await db.query(`SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND indexname = 'resources_identifier_idx'`, [schema])).toEqual(
      [],
    );

    // The tenant's next screening for that MRN finds the adopted Patient instead of making another.
    const found = await ensurePatient(forTenant(db, 'north'), { system: MRN, value: 'M-1' }, () => {
      throw new Error('must not build: the Patient exists');
    });
    expect(found).toMatchObject({ created: false, patient: { id: 'older' } });
  });
});
