import { allOk, badRequest, normalizeOperationOutcome, OperationOutcomeError } from '@medplum/core';
import type { FhirRequest, FhirResponse, FhirRouter } from '@medplum/fhir-router';
import type { Bundle } from '@medplum/fhirtypes';
import type { SandboxRepository } from '../store/sandbox-repository';
import { completeBundleResponse, firstFailure } from './bundle-response';

/**
 * Executes a batch or transaction Bundle posted to the base URL.
 *
 * Medplum's batch processor already orders entries, resolves `urn:uuid:` placeholders
 * (including conditional creates that match an existing resource) and honours
 * `request.ifNoneExist`/`ifMatch`. Run as a transaction, though, it refuses conditional
 * entries in Bundles of more than 8 entries (a PostgreSQL isolation limit) and relies on the
 * repository for atomicity. So the Bundle is processed in batch mode inside one repository
 * transaction, and any failed entry rolls everything back: the same all-or-nothing semantics
 * without the size limit.
 * @see http://hl7.org/fhir/R4/http.html#transaction
 */
export async function executeBundle(
  router: FhirRouter,
  repo: SandboxRepository,
  req: FhirRequest,
  baseUrl: string
): Promise<FhirResponse> {
  const bundle = req.body as Bundle | undefined;
  if (bundle?.resourceType !== 'Bundle') {
    return [badRequest('Expected a Bundle', 'resourceType')];
  }
  if (bundle.type === 'batch') {
    const [outcome, result] = await router.handleRequest({ ...req, config: { transactions: false } }, repo);
    return result ? [outcome, completeBundleResponse(result as Bundle, baseUrl)] : [outcome];
  }
  if (bundle.type !== 'transaction') {
    return [badRequest(`Bundle.type must be batch or transaction, not ${bundle.type ?? 'absent'}`, 'Bundle.type')];
  }
  try {
    const result = await repo.withTransaction(async () => {
      const [outcome, response] = await router.handleRequest({ ...req, config: { transactions: false } }, repo);
      if (!response) {
        throw new OperationOutcomeError(outcome);
      }
      const failure = firstFailure(bundle, response as Bundle);
      if (failure) {
        throw new OperationOutcomeError(failure);
      }
      return response as Bundle;
    });
    return [allOk, completeBundleResponse(result, baseUrl)];
  } catch (err) {
    return [normalizeOperationOutcome(err)];
  }
}
