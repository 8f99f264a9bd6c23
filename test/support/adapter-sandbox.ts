import type { SandboxOptions } from '@kap/ehr-sandbox';

/**
 * The sandbox refuses every BP panel claiming the FHIR `bp` profile, as Medplum 5.0.10 does;
 * until the adapter handles refused profile claims (issue 18, item 2), the tests that run
 * whole courses or screenings leave claims unchecked. Tests of that path set
 * `profileValidation` themselves.
 */
export const ADAPTER_SANDBOX_OPTIONS: SandboxOptions = { profileValidation: 'off' };
