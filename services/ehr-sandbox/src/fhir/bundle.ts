import { allOk, badRequest, normalizeOperationOutcome, OperationOutcomeError } from '@medplum/core';
import type { FhirRequest, FhirResponse, FhirRouter } from '@medplum/fhir-router';
import type { Bundle, BundleEntry, OperationOutcome } from '@medplum/fhirtypes';
import type { ScopeGrant } from '../auth/scopes';
import { FULL_ACCESS, scopeRefusal } from '../auth/scopes';
import { classifyRequest } from './interactions';
import type { SandboxRepository } from '../store/sandbox-repository';
import { completeBundleResponse, firstFailure } from './bundle-response';
import { errorOutcome } from './outcomes';
import type { SandboxPolicy } from './policy';

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
  baseUrl: string,
  policy: SandboxPolicy,
  grant: ScopeGrant = FULL_ACCESS,
): Promise<FhirResponse> {
  const bundle = req.body as Bundle | undefined;
  if (bundle?.resourceType !== 'Bundle') {
    return [badRequest('Expected a Bundle', 'resourceType')];
  }
  const refused = refusedByPolicy(bundle, policy);
  if (refused) {
    return [refused];
  }
  const forbidden = forbiddenEntries(bundle, grant);
  if (bundle.type === 'batch' || (bundle.type === 'transaction' && policy.nonAtomicTransactions)) {
    // Non-atomic: each entry on its own; a "transaction" so run still answers 200 (Medplum without transaction-bundles).
    // Entries the token may not do are answered 403 in place; the others run.
    const allowed = (bundle.entry ?? []).filter((_e, i) => !forbidden.has(i));
    const entries: BundleEntry[] = [];
    let outcome: OperationOutcome = allOk;
    if (allowed.length > 0) {
      const asBatch = { ...req, body: { ...bundle, type: 'batch', entry: allowed }, config: { transactions: false } };
      const [batchOutcome, result] = await router.handleRequest(asBatch, repo);
      if (!result) return [batchOutcome];
      outcome = batchOutcome;
      entries.push(...((result as Bundle).entry ?? []));
    }
    const merged = (bundle.entry ?? []).map((_e, i) => {
      const refusal = forbidden.get(i);
      return refusal ? { response: { status: '403', outcome: refusal } } : (entries.shift() ?? {});
    });
    const response: Bundle = { resourceType: 'Bundle', type: `${bundle.type}-response` as Bundle['type'], entry: merged };
    return [outcome, completeBundleResponse(response, baseUrl)];
  }
  if (bundle.type !== 'transaction') {
    return [badRequest(`Bundle.type must be batch or transaction, not ${bundle.type ?? 'absent'}`, 'Bundle.type')];
  }
  const [firstForbidden] = forbidden;
  if (firstForbidden) {
    // All or nothing: one entry the token may not do refuses the whole transaction.
    const [index, outcome] = firstForbidden;
    return [{ ...outcome, issue: outcome.issue.map((issue) => ({ ...issue, expression: [`Bundle.entry[${index}]`] })) }];
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

/** The entries the token's scopes do not allow, by index, with their 403 outcome. */
function forbiddenEntries(bundle: Bundle, grant: ScopeGrant): Map<number, OperationOutcome> {
  const forbidden = new Map<number, OperationOutcome>();
  for (const [index, entry] of (bundle.entry ?? []).entries()) {
    const requested = classifyRequest(entry.request?.method ?? 'GET', entry.request?.url ?? '');
    const refusal = requested ? scopeRefusal(grant, requested, entry.resource) : undefined;
    if (refusal) forbidden.set(index, refusal.outcome);
  }
  return forbidden;
}

/**
 * The limits real servers put on Bundles, with Medplum server's messages: any conditional
 * entry makes a transaction need serializable isolation, refused above
 * `maxTransactionEntries` entries; more than `maxTransactionUpdates` updates are refused too.
 * A server that takes no Bundles, or a Bundle entry of a type it does not take, is a 400.
 */
function refusedByPolicy(bundle: Bundle, policy: SandboxPolicy): OperationOutcome | undefined {
  if (!policy.transactions) {
    return errorOutcome(
      'not-supported',
      `This server does not support ${bundle.type ?? 'Bundle'} interactions; send each resource on its own`,
    );
  }
  const entries = bundle.entry ?? [];
  for (const [index, entry] of entries.entries()) {
    const type = (entry.request?.url ?? '').split(/[/?]/)[0] ?? '';
    if (type && !policy.accepts(type)) {
      return badRequest(`Resource type not supported: ${type}`, `Bundle.entry[${index}].request.url`);
    }
  }
  if (bundle.type !== 'transaction') {
    return undefined;
  }
  const updates = entries.filter((e) => e.request?.method === 'PUT').length;
  if (updates > policy.maxTransactionUpdates) {
    return badRequest('Transaction contains more update operations than allowed');
  }
  const conditional = entries.some(
    (e) =>
      (e.request?.method === 'POST' && Boolean(e.request.ifNoneExist)) ||
      ((e.request?.method === 'PUT' || e.request?.method === 'DELETE') && (e.request.url ?? '').includes('?')),
  );
  if (conditional && entries.length > policy.maxTransactionEntries) {
    return badRequest('Transaction requires strict isolation but has too many entries');
  }
  return undefined;
}
