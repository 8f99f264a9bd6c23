import { ehrBaseUrl, type Tenant, type Tenants } from '@kap/config';

/**
 * Which tenants an operator command (`ehr:check`, `ehr:subscribe`) runs for. Each tenant may
 * have its own EHR, so a command that silently used the environment's EHR would check or
 * subscribe the wrong hospital in a multi-tenant deployment.
 */

/** The tenant options of an operator command, and the options it did not recognise as such. */
export interface TenantArgs {
  readonly tenant?: string;
  readonly all: boolean;
  /** Every argument that is not `--tenant ID`, `--tenant=ID` or `--all`. */
  readonly rest: readonly string[];
}

export function parseTenantArgs(argv: readonly string[]): TenantArgs {
  let tenant: string | undefined;
  let all = false;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--all') all = true;
    else if (arg === '--tenant') {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new TenantChoiceError('--tenant needs a tenant id: --tenant ID');
      tenant = next;
      i++;
    } else if (arg.startsWith('--tenant=')) tenant = arg.slice('--tenant='.length);
    else rest.push(arg);
  }
  if (tenant !== undefined && all) throw new TenantChoiceError('--tenant and --all exclude each other: name one tenant, or all of them');
  return { ...(tenant !== undefined ? { tenant } : {}), all, rest };
}

/** A command line that names no usable tenant: said to the operator, exit code 2. */
export class TenantChoiceError extends Error {}

export interface TenantChoice {
  readonly tenants: readonly Tenant[];
  /** Tenants `--all` leaves out, with why. */
  readonly skipped: readonly { readonly id: string; readonly reason: string }[];
}

/**
 * The tenants to run for. `--tenant ID`: that one. `--all`: every tenant with an EHR of its
 * own (`EHR_BASE_URL`); one without it would only reach the embedded sandbox. Neither: the
 * only tenant when there is one (a deployment without a tenants file, or a file naming one);
 * with several, the operator must say which, since guessing would touch another hospital's EHR.
 */
export function chooseTenants(tenants: Tenants, args: Pick<TenantArgs, 'tenant' | 'all'>): TenantChoice {
  if (args.tenant !== undefined) {
    const tenant = tenants.get(args.tenant);
    if (!tenant) throw new TenantChoiceError(`No tenant "${args.tenant}" here; the tenants are: ${tenants.ids.join(', ')}`);
    return { tenants: [tenant], skipped: [] };
  }
  if (args.all) {
    const withEhr = tenants.all().filter((t) => t.config.EHR_BASE_URL);
    const skipped = tenants
      .all()
      .filter((t) => !t.config.EHR_BASE_URL)
      .map((t) => ({ id: t.id, reason: 'no EHR_BASE_URL (it would use the embedded sandbox)' }));
    if (withEhr.length === 0)
      throw new TenantChoiceError(`--all: no tenant has an EHR configured (EHR_BASE_URL); the tenants are: ${tenants.ids.join(', ')}`);
    return { tenants: withEhr, skipped };
  }
  const all = tenants.all();
  if (all.length === 1) return { tenants: all, skipped: [] };
  throw new TenantChoiceError(
    `This deployment serves ${all.length} tenants (${tenants.ids.join(', ')}), each with its own EHR: name one with --tenant ID, or run for every tenant with an EHR with --all`,
  );
}

/** The heading of one tenant's section: which tenant, and which EHR it reaches. */
export function tenantHeading(tenant: Tenant): string {
  return `=== Tenant ${tenant.id}${tenant.name !== tenant.id ? ` (${tenant.name})` : ''}: EHR ${ehrBaseUrl(tenant.config)} ===`;
}

/**
 * Runs `run` for each chosen tenant in turn under its heading, then a summary when there were
 * several. Exit code 0 only if every tenant's was; a tenant that throws fails alone.
 */
export async function runPerTenant(
  choice: TenantChoice,
  out: (line: string) => void,
  run: (tenant: Tenant) => Promise<number>,
): Promise<number> {
  const failed: string[] = [];
  for (const tenant of choice.tenants) {
    out(tenantHeading(tenant));
    let code: number;
    try {
      code = await run(tenant);
    } catch (err) {
      out(`  FAIL  ${err instanceof Error ? err.message : String(err)}`);
      code = 1;
    }
    if (code !== 0) failed.push(tenant.id);
    out('');
  }
  for (const s of choice.skipped) out(`Tenant ${s.id} skipped: ${s.reason}`);
  if (choice.tenants.length > 1 || choice.skipped.length > 0) {
    out(
      failed.length === 0
        ? `All ${choice.tenants.length} tenant(s) passed: ${choice.tenants.map((t) => t.id).join(', ')}`
        : `${failed.length} of ${choice.tenants.length} tenant(s) failed: ${failed.join(', ')}`,
    );
  }
  return failed.length === 0 ? 0 : 1;
}
