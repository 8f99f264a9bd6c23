import { ehrBaseUrl, type Config } from '@kap/config';
import { capabilityCache, decideWriteStrategy, isEhrError, writeSettingsFrom, type EhrClient } from '@kap/ehr-client';
import type { PatientUpdateJobData } from '@kap/queue';
import { getSyncStates, markCompleted, readResource, type TenantDb } from '@kap/store';
import type { Patient } from '@medplum/fhirtypes';
import stringify from 'safe-stable-stringify';
import { auditAdapterWrites } from '../audit';
import { syncIdentityOf } from '../sync/sync-identity';

/** The demographics the hospital's feed (ADT A08) owns; nothing else of the EHR's Patient is touched. */
const FED_ELEMENTS = ['name', 'birthDate', 'gender'] as const;

/**
 * Brings the EHR's Patient up to date with the demographics the hospital's feed changed.
 * The adapter otherwise never writes the EHR's Patient (the hospital owns it), so this
 * reads it, changes only name, birth date and gender, and updates under If-Match: a
 * concurrent change is a 412 and the job retries on a fresh read. A Patient the EHR does
 * not have yet gets the new demographics when the normal sync creates it.
 */
export async function pushPatientDemographics(
  deps: { db: TenantDb; ehr: EhrClient; config: Config; now?: () => Date },
  data: PatientUpdateJobData,
): Promise<string> {
  const local = await readResource<Patient>(deps.db, 'Patient', data.patientId);
  if (!local) {
    await markCompleted(deps.db, data.outboxKey);
    return 'obsolete: unknown patient';
  }
  const [state] = await getSyncStates(deps.db, [{ type: 'Patient', id: data.patientId }]);
  let current = state?.ehrId ? await deps.ehr.read('Patient', state.ehrId) : undefined;
  if (!current) {
    const identity = syncIdentityOf(local);
    const found =
      identity.by === 'identifier' ? await deps.ehr.findByIdentifiers('Patient', [{ system: identity.system, value: identity.value }]) : [];
    if (found.length > 1) throw new Error(`The EHR holds more than one Patient with the hospital identifier; resolve the duplicate there`);
    if (found[0]?.id) current = await deps.ehr.read('Patient', found[0].id);
  }
  if (!current) {
    await markCompleted(deps.db, data.outboxKey);
    return 'not in the EHR yet';
  }
  const settings = writeSettingsFrom(deps.config);
  const capabilities = await capabilityCache(deps.ehr, settings.capabilitiesRefreshMs).get();
  if (decideWriteStrategy(capabilities, settings).patients === 'match' || !capabilities.types.get('Patient')?.update) {
    // An EHR whose Patients the adapter only finds (or hospital IT left Patient out): the hospital keeps them current itself.
    await markCompleted(deps.db, data.outboxKey);
    return 'the EHR takes no Patient updates';
  }
  const updated: Patient = { ...current.resource };
  for (const element of FED_ELEMENTS) {
    if (local[element] === undefined) continue;
    (updated as unknown as Record<string, unknown>)[element] = local[element];
  }
  if (FED_ELEMENTS.every((e) => stringify(updated[e]) === stringify(current.resource[e]))) {
    await markCompleted(deps.db, data.outboxKey);
    return 'unchanged';
  }
  try {
    await deps.ehr.update(updated, current.etag ? { ifMatch: current.etag } : {});
  } catch (err) {
    if (isEhrError(err) && (err.kind === 'precondition-failed' || err.kind === 'conflict')) {
      throw new Error('The EHR Patient changed while it was updated; reading it again');
    }
    throw err;
  }
  // The adapter changed the EHR's copy of the patient on its own: the trail names the EHR's
  // Patient and the work that asked for it (the hospital feed's change, stored in the outbox).
  await deps.db.transaction(async (tx) => {
    await auditAdapterWrites(
      tx,
      deps.config,
      'worker/patient-demographics',
      [
        {
          patientId: data.patientId,
          interaction: 'update',
          resources: [`${ehrBaseUrl(deps.config)}/Patient/${current.resource.id}`],
          cause: {
            kind: 'outbox',
            id: data.outboxKey,
            description: "demographics the hospital's feed changed, pushed to the EHR's Patient",
          },
        },
      ],
      (deps.now ?? (() => new Date()))(),
    );
    await markCompleted(tx, data.outboxKey);
  });
  return 'updated';
}
