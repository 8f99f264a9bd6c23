/**
 * Must not compile: each line marked `// error TSnnnn` is a mistake the handle types exist to
 * refuse, and `handle-types.test.ts` checks that the compiler reports exactly these errors
 * (so the file neither starts compiling nor fails for another reason). Excluded from
 * `tsconfig.test.json`; never run.
 */
import { receiveInboundMessage, saveForSync } from '@kap/queue';
import { enqueueOutbox, forTenant, readResource, type DeploymentDb, type TenantDb } from '@kap/store';

declare const deployment: DeploymentDb;
declare const tenant: TenantDb;

export async function mistakes(): Promise<void> {
  // A function on a tenant's rows refuses the deployment's handle.
  await readResource(deployment, 'Patient', 'p1'); // error TS2345
  await enqueueOutbox(deployment, { topic: 'ehr-sync', payload: {} }); // error TS2345
  // A transaction on the deployment's handle is the deployment's too.
  await deployment.transaction((tx) => readResource(tx, 'Patient', 'p1')); // error TS2345
  // No tenant id beside a handle: the handle names its tenant.
  await saveForSync(tenant, 'p1', [], { reason: 'test', tenantId: 'north' }); // error TS2353
  await receiveInboundMessage(tenant, 'north', { channel: 'hl7v2', content: 'MSH|', status: 'accepted' }); // error TS2554
  // Only forTenant makes a tenant's handle: one built by hand lacks the brand no code outside the store can name.
  const forged: TenantDb = { kind: 'postgres', query: deployment.query, ping: deployment.ping, transaction: tenant.transaction }; // error TS2741
  // A tenant's handle is not the deployment's: it cannot be scoped again, nor closed.
  forTenant(tenant, 'south'); // error TS2345
  await tenant.close(); // error TS2339
  void forged;
}
