import type { EhrClient } from '@kap/ehr-client';
import type { Bundle, Subscription } from '@medplum/fhirtypes';

/**
 * Creates each Subscription on the EHR unless one with the same topic and endpoint is
 * there already (a conditional create, so running `npm run ehr:subscribe` twice makes
 * one of each). Returns where each one is, as the EHR answered.
 * @see http://hl7.org/fhir/R4/http.html#ccreate
 */
export async function ensureEhrSubscriptions(ehr: EhrClient, subscriptions: readonly Subscription[]): Promise<Array<{ criteria: string; status: string; location?: string }>> {
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: subscriptions.map((s) => ({
      resource: s,
      request: {
        method: 'POST',
        url: 'Subscription',
        ifNoneExist: `criteria=${encodeURIComponent(s.criteria ?? '')}&url=${encodeURIComponent(s.channel?.endpoint ?? '')}`,
      },
    })),
  };
  const response = await ehr.transaction(bundle);
  return subscriptions.map((s, i) => {
    const entry = response.entry?.[i]?.response;
    return { criteria: s.criteria ?? '', status: entry?.status ?? 'unknown', ...(entry?.location ? { location: entry.location } : {}) };
  });
}
