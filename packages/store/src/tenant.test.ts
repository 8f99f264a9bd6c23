import { randomBytes } from 'node:crypto';
import { migrate } from './migrations';
import { forTenant } from './tenant';
import { TENANT_ISOLATION_EXPECTED, tenantIsolationScenario } from './tenant-scenario';
import { openTestDb, uniqueSchema, type TestDb } from './test-support';

describe('tenants on PostgreSQL (row-level security)', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb('store_tenant');
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it("a tenant's handle sees, changes and writes only its own rows, whatever the query says", async () => {
    await expect(tenantIsolationScenario(t.deployment)).resolves.toEqual(TENANT_ISOLATION_EXPECTED);
  });

  it('a tenant-scoped transaction rolls back like any other and leaves its connection unscoped', async () => {
    const a = forTenant(t.deployment, 'rollback-tenant');
    await expect(
      a.transaction(async (tx) => {
        await tx.query("INSERT INTO reconciliations (id) VALUES ('00000000-0000-4000-8000-000000000001')");
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await a.query('SELECT id FROM reconciliations')).toEqual([]);
    // Every pooled connection comes back as the deployment's role, with no tenant set.
    const roles = await Promise.all(
      Array.from({ length: 12 }, () =>
        t.deployment.query<{ role: string; tenant: string | null }>(
          "SELECT current_user AS role, current_setting('kap.tenant', true) AS tenant",
        ),
      ),
    );
    for (const [row] of roles) {
      expect(row?.role).not.toBe('kap_tenant');
      expect(row?.tenant ?? '').toBe('');
    }
  });

  it('refuses an empty tenant rather than scoping to nothing', () => {
    expect(() => forTenant(t.deployment, '')).toThrow('forTenant needs a tenant id');
  });

  it('binds the tables’ owner too when it is not a superuser (FORCE): all rows for the machinery, one tenant once one is set', async () => {
    // A production-like deployment role, created and dropped inside one rolled-back transaction.
    const owner = `kap_owner_${randomBytes(4).toString('hex')}`;
    const schema = uniqueSchema('store_tenant_owner');
    const seen = await t.deployment
      .transaction(async (tx) => {
        await tx.query(`CREATE ROLE ${owner} NOLOGIN`);
        await tx.query(`CREATE SCHEMA ${schema} AUTHORIZATION ${owner}`);
        await tx.query(`GRANT kap_tenant TO ${owner}`);
        await tx.query(`SET LOCAL ROLE ${owner}`);
        await tx.query(`SET LOCAL search_path TO ${schema}`);
        // The schema exists and search_path names it: migrate needs no CREATE on the database.
        await migrate(tx);
        const superuser = await tx.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
        await tx.query(
          "INSERT INTO reconciliations (id, tenant_id) VALUES ('00000000-0000-4000-8000-00000000000a', 'A'), ('00000000-0000-4000-8000-00000000000b', 'B')",
        );
        const unscoped = await tx.query<{ tenant_id: string }>('SELECT tenant_id FROM reconciliations ORDER BY tenant_id');
        await tx.query("SELECT set_config('kap.tenant', 'A', true)");
        const ownerAsA = await tx.query<{ tenant_id: string }>('SELECT tenant_id FROM reconciliations');
        const a = forTenant(tx, 'A');
        const tenantA = await a.query<{ tenant_id: string; role: string }>('SELECT tenant_id, current_user AS role FROM reconciliations');
        throw Object.assign(new Error('rollback'), { seen: { superuser: superuser[0]?.rolsuper, unscoped, ownerAsA, tenantA } });
      })
      .catch((error: { seen?: unknown }) => error.seen ?? error);
    expect(seen).toEqual({
      superuser: false,
      unscoped: [{ tenant_id: 'A' }, { tenant_id: 'B' }],
      ownerAsA: [{ tenant_id: 'A' }],
      tenantA: [{ tenant_id: 'A', role: 'kap_tenant' }],
    });
  });
});

describe('a child row and its parent belong to one tenant', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb('store_tenant_fk');
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it("refuses a course under another tenant's screening, and a session under another tenant's course, even by id", async () => {
    const screening = (tenant: string, id: string) =>
      forTenant(t.deployment, tenant).query(
        "INSERT INTO screenings (id, patient_id, outcome, performed_at) VALUES ($1, 'p-fk', 'eligible', now())",
        [id],
      );
    const course = (tenant: string, id: string, screeningId: string) =>
      forTenant(t.deployment, tenant).query(
        "INSERT INTO courses (id, screening_id, patient_id, care_plan_id, start_date) VALUES ($1, $2, 'p-fk', 'cp-fk', current_date)",
        [id, screeningId],
      );
    await screening('north', 'scr-north');
    await expect(course('south', 'course-south', 'scr-north')).rejects.toThrow(/foreign key/);
    await course('north', 'course-north', 'scr-north');
    const session = (tenant: string) =>
      forTenant(t.deployment, tenant).query(
        "INSERT INTO dosing_sessions (id, course_id, session_number, start_time, end_time, dose_level) VALUES ($1, 'course-north', 1, now(), now(), 'low')",
        [`session-${tenant}`],
      );
    await expect(session('south')).rejects.toThrow(/foreign key/);
    await expect(session('north')).resolves.toEqual([]);
  });
});
