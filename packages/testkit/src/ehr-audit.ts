import { sameContent } from '@kap/ehr-client';
import { RESOURCE_IDENTIFIER_SYSTEM, PROVENANCE_TAG_SYSTEM } from '@kap/fhir';
import { forTenant, getSyncStates, type DeploymentDb, type SyncStateRow } from '@kap/store';
import type { Bundle, Resource } from '@medplum/fhirtypes';

/** Everything of one type on the EHR (the sandbox), following `next` links. */
export async function ehrAll(baseUrl: string, type: string): Promise<Resource[]> {
  const out: Resource[] = [];
  let url: string | undefined = `${baseUrl}/${type}?_count=200`;
  while (url) {
    const res = await fetch(url, { headers: { Accept: 'application/fhir+json' } });
    if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
    const bundle = (await res.json()) as Bundle;
    for (const e of bundle.entry ?? []) if (e.resource) out.push(e.resource);
    url = bundle.link?.find((l) => l.relation === 'next')?.url;
  }
  return out;
}

export interface EhrAudit {
  /** Local resources per type. */
  readonly local: Record<string, number>;
  /** EHR resources per type. */
  readonly ehr: Record<string, number>;
  /** Identities held by more than one EHR resource. */
  readonly duplicates: string[];
  /** Local resources with no EHR copy, or whose synced version is behind. */
  readonly missing: string[];
}

const identityOf = (r: Resource): string | undefined => {
  if (r.resourceType === 'Provenance' || r.resourceType === 'AuditEvent')
    return r.meta?.tag?.find((t) => t.system === PROVENANCE_TAG_SYSTEM)?.code;
  const ids = 'identifier' in r ? r.identifier : undefined;
  const list = Array.isArray(ids) ? ids : ids ? [ids] : [];
  const wanted =
    r.resourceType === 'Patient'
      ? list.find((i) => i.system !== RESOURCE_IDENTIFIER_SYSTEM)
      : list.find((i) => i.system === RESOURCE_IDENTIFIER_SYSTEM);
  return wanted ? `${wanted.system}|${wanted.value}` : undefined;
};

/**
 * Compares what the adapter holds with what the EHR holds: every accepted resource must be
 * there exactly once, at its latest local version.
 */
export async function auditEhr(db: DeploymentDb, ehrBaseUrl: string): Promise<EhrAudit> {
  const rows = await db.query<{ resource_type: string; id: string; version_id: number; content: Resource; tenant_id: string }>(
    'SELECT resource_type, id, version_id, content, tenant_id FROM resources',
  );
  const local: Record<string, number> = {};
  for (const r of rows) local[r.resource_type] = (local[r.resource_type] ?? 0) + 1;
  const ehr: Record<string, number> = {};
  const duplicates: string[] = [];
  const ehrByIdentity = new Map<string, Resource>();
  for (const type of Object.keys(local)) {
    const all = await ehrAll(ehrBaseUrl, type);
    ehr[type] = all.length;
    const seen = new Map<string, number>();
    for (const r of all) {
      const key = `${type}|${identityOf(r) ?? `no-identity:${r.id}`}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      ehrByIdentity.set(key, r);
    }
    for (const [key, count] of seen) if (count > 1) duplicates.push(`${key} ×${count}`);
  }
  // Each tenant's sync states through its own handle, as the adapter reads them.
  const states: SyncStateRow[] = [];
  for (const tenant of new Set(rows.map((r) => r.tenant_id))) {
    const own = rows.filter((r) => r.tenant_id === tenant);
    states.push(
      ...(await getSyncStates(
        forTenant(db, tenant),
        own.map((r) => ({ type: r.resource_type, id: r.id })),
      )),
    );
  }
  const missing: string[] = [];
  for (const r of rows) {
    const state = states.find((s) => s.type === r.resource_type && s.id === r.id);
    const copy = ehrByIdentity.get(`${r.resource_type}|${identityOf(r.content)}`);
    if (!copy) missing.push(`${r.resource_type}/${r.id}: not on the EHR`);
    else if (state?.status !== 'synced' || state.syncedVersion !== r.version_id) {
      missing.push(`${r.resource_type}/${r.id}: v${r.version_id} local, synced ${state?.syncedVersion ?? 'never'} (${state?.status})`);
    } else if (r.resource_type !== 'Patient' && !sameContent(stripRefs(copy), stripRefs(r.content))) {
      missing.push(`${r.resource_type}/${r.id}: EHR content differs from v${r.version_id}`);
    }
  }
  return { local, ehr, duplicates, missing };
}

/** Content with references blanked: local and EHR ids differ by design. */
function stripRefs(r: Resource): Resource {
  return JSON.parse(JSON.stringify(r, (k, v) => (k === 'reference' ? '*' : v))) as Resource;
}
