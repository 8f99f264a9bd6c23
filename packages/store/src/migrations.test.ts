import { openDatabase, type DeploymentDb } from './db';
import { migrate, MIGRATIONS } from './migrations';
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
    const [tables] = await a.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1',
      [schema],
    );
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
