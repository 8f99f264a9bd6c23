/**
 * Find-or-create of a Patient by the hospital's identifier, exactly once. The unique row
 * in `patient_identifiers` is the arbiter: concurrent callers race on its INSERT, one
 * wins, the others wait for it to commit and then read what it wrote.
 */
import { randomUUID } from 'node:crypto';
import type { Identifier, Patient } from '@medplum/fhirtypes';
import type { TenantDb } from './tenant';
import { SCOPED_TENANT } from './migration-list';
import { putResources, readResource } from './resources';

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
  /**
   * The id a new Patient is claimed under (`build()`'s id is then replaced by it). Known in
   * advance, the lookup and the claim travel as one statement instead of three.
   */
  readonly newId?: string;
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
    const found = await lookUpPatient(tx, identifier, options.newId);
    if (found.knownId) {
      return found.known ? { patient: found.known, created: false } : loadOrCreate(tx, found.knownId, identifier, build);
    }
    let candidateId: string;
    let claimed: boolean;
    let candidate: Patient | undefined;
    if (found.claimedId !== undefined) {
      claimed = found.claimedId !== null;
      candidateId = found.claimedId ?? '';
    } else {
      candidate = withIdentifier(build(), identifier);
      candidateId = candidate.id ?? randomUUID();
      const rows = await tx.query(
        `INSERT INTO patient_identifiers (system, value, patient_id) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, system, value) DO NOTHING RETURNING patient_id`,
        [identifier.system, identifier.value, candidateId],
      );
      claimed = rows.length > 0;
    }
    if (!claimed) {
      // Another transaction claimed it first and has committed (ON CONFLICT waited for it).
      const winner = await patientIdFor(tx, identifier);
      if (!winner) throw new Error('Patient identifier claimed by a transaction that then vanished');
      return loadOrCreate(tx, winner, identifier, build);
    }
    const patient = { ...(candidate ?? withIdentifier(build(), identifier)), id: candidateId };
    if (options.callerStoresNew) return { patient, created: true };
    const [stored] = await putResources(tx, [patient]);
    if (!stored) throw new Error('putResources returned nothing');
    return { patient: stored, created: true };
  });
}

interface LookedUp {
  /** The id the identifier maps to, and that Patient (undefined if its resource went missing). */
  readonly knownId?: string;
  readonly known?: Patient;
  /** With a `newId`, unmapped: the id claimed, or null when another transaction's claim won. */
  readonly claimedId?: string | null;
}

/**
 * One statement: the mapped Patient, and (with `newId`) the claim of the identifier for
 * `newId`. The claim reads what the look-up found; neither needs a result back in between.
 * The map is the only way to a Patient: every Patient the service stores is claimed here
 * first (migration 23 mapped those stored before), so no scan of stored Patients is needed.
 */
async function lookUpPatient(tx: TenantDb, identifier: PatientIdentifier, newId: string | undefined): Promise<LookedUp> {
  const params: unknown[] = [identifier.system, identifier.value];
  if (newId !== undefined) params.push(newId);
  const [row] = await tx.query<{ known_id: string | null; known: Patient | null; claimed_id: string | null }>(
    `WITH known AS (SELECT patient_id FROM patient_identifiers WHERE system = $1 AND value = $2 AND tenant_id = ${SCOPED_TENANT})${
      newId === undefined
        ? ''
        : `,
     claimed AS (
       INSERT INTO patient_identifiers (system, value, patient_id)
       SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM known)
       ON CONFLICT (tenant_id, system, value) DO NOTHING RETURNING patient_id
     )`
    }
     SELECT (SELECT patient_id FROM known) AS known_id,
       (SELECT r.content FROM resources r JOIN known k ON r.resource_type = 'Patient' AND r.id = k.patient_id) AS known,
       ${newId === undefined ? 'NULL::text' : '(SELECT patient_id FROM claimed)'} AS claimed_id`,
    params,
  );
  if (row?.known_id) return { knownId: row.known_id, ...(row.known ? { known: row.known } : {}) };
  return newId === undefined ? {} : { claimedId: row?.claimed_id ?? null };
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
async function loadOrCreate(tx: TenantDb, patientId: string, identifier: PatientIdentifier, build: () => Patient): Promise<EnsuredPatient> {
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
