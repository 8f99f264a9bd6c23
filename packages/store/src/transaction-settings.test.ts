import { settingsStatement } from './db';
import { forTenant } from './tenant';
import { openTestDb, type TestDb } from './test-support';

describe('transaction settings sent with BEGIN', () => {
  it('builds one set_config statement with every value a quoted literal', () => {
    expect(settingsStatement(undefined)).toBeUndefined();
    expect(settingsStatement({})).toBeUndefined();
    expect(settingsStatement({ 'kap.tenant': "o'brien", role: 'kap_tenant' })).toBe(
      "SELECT set_config('kap.tenant', 'o''brien', true), set_config('role', 'kap_tenant', true)",
    );
    // A backslash makes it an E'' literal with the backslash doubled, whatever standard_conforming_strings says.
    expect(settingsStatement({ 'kap.tenant': 'a\\b' })).toBe("SELECT set_config('kap.tenant',  E'a\\\\b', true)");
  });

  it('refuses a setting name that is not a plain identifier, and a value with a NUL', () => {
    expect(() => settingsStatement({ "kap.tenant'); DROP TABLE x; --": 'a' })).toThrow('Not a setting name');
    expect(() => settingsStatement({ 'kap.tenant': 'a\0b' })).toThrow('Not a setting value');
  });

  describe('on PostgreSQL', () => {
    let t: TestDb;
    beforeAll(async () => {
      t = await openTestDb('store_tx_settings');
    });
    afterAll(async () => {
      await t.cleanup();
    });

    it('a value that would break out of its quotes arrives as it is, and the tenant scope still holds', async () => {
      const odd = "x'; SET LOCAL role = postgres; SELECT '\\";
      const seen = await t.deployment.transaction(
        (tx) => tx.query<{ v: string; role: string }>("SELECT current_setting('kap.test_value') AS v, current_user AS role"),
        { settings: { 'kap.test_value': odd } },
      );
      expect(seen).toEqual([{ v: odd, role: expect.not.stringMatching(/^kap_tenant$/) }]);
      const scoped = await forTenant(t.deployment, 'tenant-a').transaction((tx) =>
        tx.query<{ tenant: string; role: string }>("SELECT current_setting('kap.tenant') AS tenant, current_user AS role"),
      );
      expect(scoped).toEqual([{ tenant: 'tenant-a', role: 'kap_tenant' }]);
    });

    it('a setting PostgreSQL refuses fails the transaction and leaves no pooled connection inside it', async () => {
      // 'role' to a role that does not exist: refused after BEGIN, in the same round trip.
      const body = jest.fn(async () => 'ran');
      await expect(t.deployment.transaction(body, { settings: { role: 'no_such_role_kap' } })).rejects.toThrow(/no_such_role_kap/);
      expect(body).not.toHaveBeenCalled();
      // Every pooled connection answers normally: none was returned in an aborted transaction.
      const rows = await Promise.all(Array.from({ length: 12 }, () => t.deployment.query<{ one: number }>('SELECT 1 AS one')));
      expect(rows.flat()).toEqual(Array.from({ length: 12 }, () => ({ one: 1 })));
    });

    it('settings on a nested transaction apply within the open one, and end with it', async () => {
      const inner = await t.deployment.transaction(async (tx) =>
        tx.transaction((again) => again.query<{ v: string }>("SELECT current_setting('kap.nested') AS v"), {
          settings: { 'kap.nested': 'yes' },
        }),
      );
      expect(inner).toEqual([{ v: 'yes' }]);
      const after = await t.deployment.query<{ v: string | null }>("SELECT current_setting('kap.nested', true) AS v");
      expect(after[0]?.v ?? '').toBe('');
    });
  });
});
