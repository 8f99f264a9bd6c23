/**
 * Find-or-create of a Patient by the hospital's identifier, exactly once. The unique row
 * in `patient_identifiers` is the arbiter: concurrent callers race on its INSERT, one
 * wins, the others wait for it to commit and then read what it wrote.
 */
import { randomUUID } from 'node:crypto';
import type { Identifier, Patient } from '@medplum/fhirtypes';
import type { TenantDb } from './tenant';
import { SCOPED_TENANT } from './migration-list';
import { putResources, readResource, searchResources } from './resources';

/** A hospital identifier (https://hl7.org/fhir/R4/datatypes.html#Identifier), system required. */
export interface PatientIdentifier {
  system: string;
  value: string;
}

export interface EnsuredPatient {
  patient: Patient;
  /** True when this call created the Patient. */
  created: boolean;
}

export interface EnsurePatientOptions {
  /**
   * A new Patient is claimed (its identifier row written) but not stored: the caller stores
   * it in the same transaction with the rest of what it writes (one `putResources` instead of
   * two round trips more). The caller must store it before committing.
   */
  readonly callerStoresNew?: boolean;
}

/**
 * Finds the Patient with this identifier or creates it from `build()`, never twice, even
 * for concurrent requests in different transactions. `build` runs only when creating; its
 * `id` is kept if set (else a random UUID), and the identifier is added to
 * `Patient.identifier` if missing so FHIR searches find it. Runs in the caller's
 * transaction when given a `tx`; it must be READ COMMITTED (PostgreSQL's default), so a
 * waiting caller sees the winner's row once it commits.
 */
export async function ensurePatient(
  db: TenantDb,
  identifier: PatientIdentifier,
  build: () => Patient,
  options: EnsurePatientOptions = {},
): Promise<EnsuredPatient> {
  return db.transaction(async (tx) => {
    const known = await patientIdFor(tx, identifier);
    if (known) return loadOrCreate(tx, known, identifier, build);

    // A Patient stored before this table knew it (for example through putResources).
    const existing = await searchResources<Patient>(tx, 'Patient', { identifier, count: 1 });
    const found = existing.resources[0];
    const candidate = found ?? withIdentifier(build(), identifier);
    const candidateId = candidate.id ?? randomUUID();

    const claimed = await tx.query(
      `INSERT INTO patient_identifiers (system, value, patient_id) VALUES ($1, $2, $3)
       ON CONFLICT (tenant_id, system, value) DO NOTHING RETURNING patient_id`,
      [identifier.system, identifier.value, candidateId],
    );
    if (claimed.length === 0) {
      // Another transaction claimed it first and has committed (ON CONFLICT waited for it).
      const winner = await patientIdFor(tx, identifier);
      if (!winner) throw new Error('Patient identifier claimed by a transaction that then vanished');
      return loadOrCreate(tx, winner, identifier, build);
    }
    if (found) return { patient: found, created: false };
    if (options.callerStoresNew) return { patient: { ...candidate, id: candidateId }, created: true };
    const [patient] = await putResources(tx, [{ ...candidate, id: candidateId }]);
    if (!patient) throw new Error('putResources returned nothing');
    return { patient, created: true };
  });
}

/** The local Patient id mapped to this hospital identifier, if any. */
export async function patientIdFor(db: TenantDb, identifier: PatientIdentifier): Promise<string | undefined> {
  const [row] = await db.query<{ patient_id: string }>(
    `SELECT patient_id FROM patient_identifiers WHERE system = $1 AND value = $2 AND tenant_id = ${SCOPED_TENANT}`,
    [identifier.system, identifier.value],
  );
  return row?.patient_id;
}

/** The mapped Patient; recreated under the mapped id if its resource went missing. */
async function loadOrCreate(
  tx: TenantDb,
  patientId: string,
  identifier: PatientIdentifier,
  build: () => Patient,
): Promise<EnsuredPatient> {
  const patient = await readResource<Patient>(tx, 'Patient', patientId);
  if (patient) return { patient, created: false };
  const [created] = await putResources(tx, [{ ...withIdentifier(build(), identifier), id: patientId }]);
  if (!created) throw new Error('putResources returned nothing');
  return { patient: created, created: true };
}

function withIdentifier(patient: Patient, identifier: PatientIdentifier): Patient {
  const present = (patient.identifier ?? []).some(
    (item: Identifier) => item.system === identifier.system && item.value === identifier.value,
  );
  if (present) return patient;
  return { ...patient, identifier: [...(patient.identifier ?? []), { system: identifier.system, value: identifier.value }] };
}
