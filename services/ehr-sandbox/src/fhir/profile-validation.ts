import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { baseProfile } from './definitions';
import type { ProfileValidationMode } from './policy';

/**
 * Validates a resource against each profile it claims in `meta.profile` that the sandbox
 * knows (FHIR R4's own), as Medplum server does: a failure is 400 with the validator's issues;
 * an unknown profile is not checked.
 *
 * `medplum-5.0.10` reproduces that server's refusals, false positives included. Its slice
 * matching refuses EVERY Observation claiming `http://hl7.org/fhir/StructureDefinition/bp`
 * ("Incorrect number of values provided for slice 'SystolicBP': expected 1..1, but found 0",
 * and the same for DiastolicBP; HL7's own BP example fails it too). The @medplum/core 4.5
 * validator used here makes the same refusal, word for word, so no emulation is needed;
 * profile-validation.test.ts fails if a validator upgrade ever stops reproducing it, and
 * then the refusal must be emulated here for that profile. `off` skips claimed profiles.
 * @see http://hl7.org/fhir/R4/validation.html
 */
export function validateClaimedProfiles(resource: Resource, mode: ProfileValidationMode): void {
  if (mode === 'off') {
    return;
  }
  for (const url of resource.meta?.profile ?? []) {
    const profile = baseProfile(url);
    if (!profile || profile.type !== resource.resourceType) {
      continue;
    }
    try {
      validateResource(resource, { profile });
    } catch (err) {
      if (err instanceof OperationOutcomeError) {
        // No outcome id: Medplum's status for it is 400, as the server answers.
        throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: err.outcome.issue });
      }
      throw err;
    }
  }
}
