import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadConfig } from '@kap/config';
import { startSandbox, type SandboxProfile } from '@kap/ehr-sandbox';
import { runEhrCheck } from '@kap/worker';

jest.setTimeout(60_000);

async function check(
  profile: SandboxProfile,
  env: Record<string, string> = {},
  writeTest = false,
  hl7OutHost?: string,
): Promise<{ code: number; text: string; resources: Record<string, number> }> {
  const sandbox = await startSandbox({ port: 0, profile });
  try {
    const lines: string[] = [];
    const code = await runEhrCheck(loadConfig({ EHR_BASE_URL: sandbox.url, ...env }), {
      writeTest,
      out: (l) => lines.push(l),
      ...(hl7OutHost ? { hl7OutHost } : {}),
    });
    return { code, text: lines.join('\n'), resources: sandbox.sandbox.stats().resources };
  } finally {
    await sandbox.close();
  }
}

describe('npm run ehr:check against the strict sandbox', () => {
  it('default: transaction chunks of 8, AdverseEvent and Provenance found by _tag, and a write test that reads back', async () => {
    const { code, text, resources } = await check('default', {}, true);
    expect(code).toBe(0);
    expect(text).toContain('Writes: transaction chunks of at most 8 entries');
    expect(text).toMatch(/AdverseEvent\s+create\S*.*; _tag in If-None-Exist \| - \| -/);
    expect(text).toMatch(/Provenance\s+create\S*.*; _tag in If-None-Exist/);
    expect(text).toMatch(/Task\s+create\/update; identifier in If-None-Exist/);
    expect(text).toMatch(/Patient\s+created if missing \(conditional create on the hospital identifier\), never updated/);
    expect(text).toContain('a screening can go to this EHR');
    expect(text).toMatch(/Patient written and read back as Patient\//);
    expect(resources['Patient']).toBe(1);
    expect(resources['Observation']).toBeGreaterThan(0);
  });

  it('follows EHR_MAX_TRANSACTION_ENTRIES and EHR_WRITE_MODE', async () => {
    expect((await check('default', { EHR_MAX_TRANSACTION_ENTRIES: '5' })).text).toContain('transaction chunks of at most 5 entries');
    expect((await check('default', { EHR_WRITE_MODE: 'single' })).text).toContain('Writes: single writes');
  });

  it('no-transactions: single writes', async () => {
    const { code, text } = await check('no-transactions', {}, true);
    expect(code).toBe(0);
    expect(text).toContain('Writes: single writes (conditional creates, If-Match updates)');
    // The blood pressure's bp claim is refused (as Medplum 5.0.10 does), then taken without it: one request more.
    expect(text).toMatch(/6 resources in 7 request\(s\)/);
    expect(text).toContain('recommended: EHR_UNCLAIMED_PROFILES=http://hl7.org/fhir/StructureDefinition/bp');
    const configured = await check('no-transactions', { EHR_UNCLAIMED_PROFILES: 'http://hl7.org/fhir/StructureDefinition/bp' }, true);
    expect(configured.text).toMatch(/6 resources in 6 request\(s\)/);
    expect(configured.text).not.toContain('recommended:');
  });

  it('limited-types: keeps back what the EHR does not list, and exits non-zero as no screening content can go', async () => {
    const { code, text } = await check('limited-types');
    expect(code).toBe(1);
    expect(text).toMatch(/Observation\s+- \| - \| not in the EHR's CapabilityStatement/);
    expect(text).toMatch(/CarePlan\s+create/);
    expect(text).toContain("FAIL  a screening cannot go to this EHR: the EHR takes none of a screening's resources");
  });

  it('EHR_RESOURCE_TYPES keeps back types the EHR would take', async () => {
    const { text } = await check('default', { EHR_RESOURCE_TYPES: 'Patient,Observation,QuestionnaireResponse,Consent' });
    expect(text).toMatch(/CarePlan\s+- \| - \| not in EHR_RESOURCE_TYPES/);
  });

  it('an EHR taking vital signs and notes only: the Patient matched, the categories and the v2 channel shown per type', async () => {
    const env = { EHR_RESOURCE_TYPES: 'Observation,DocumentReference', EHR_OBSERVATION_CATEGORIES: 'vital-signs,survey' };
    const { code, text, resources } = await check('no-transactions', env, true, 'engine.hospital.test');
    expect(code).toBe(0);
    expect(text).toContain('v2: HL7_OUT_HOST is set');
    expect(text).toMatch(/Patient\s+matched by the hospital's identifier \(Patient\?identifier=\), never created/);
    expect(text).toMatch(/Observation\s+create\S*.*\| ORU\^R01 \| categories other than vital-signs, survey/);
    expect(text).toMatch(/DocumentReference \(note\)\s+create\S*.*\| MDM\^T02/);
    expect(text).toMatch(/QuestionnaireResponse\s+- \| - \| not in EHR_RESOURCE_TYPES/);
    expect(text).toContain('no write test: this EHR may not create Patients');
    expect(resources['Patient'] ?? 0).toBe(0);
    const without = await check('no-transactions', env);
    expect(without.text).toContain('HL7_OUT_HOST unset');
    expect(without.text).toMatch(/Observation\s+create\S*.*\| - \| categories other/);
  });

  it('exits non-zero when the EHR does not answer', async () => {
    const sandbox = await startSandbox({ port: 0 });
    const url = sandbox.url;
    await sandbox.close();
    const lines: string[] = [];
    expect(await runEhrCheck(loadConfig({ EHR_BASE_URL: url, EHR_TIMEOUT_MS: '1000' }), { out: (l) => lines.push(l) })).toBe(1);
    expect(lines.join('\n')).toContain('FAIL  cannot read');
  });

  it('runs as the npm script from the built code', async () => {
    const sandbox = await startSandbox({ port: 0 });
    try {
      const { stdout } = await promisify(execFile)(process.execPath, ['scripts/ehr-check.mjs'], {
        env: { ...process.env, EHR_BASE_URL: sandbox.url },
      });
      expect(stdout).toContain('a screening can go to this EHR');
    } finally {
      await sandbox.close();
    }
  });
});
