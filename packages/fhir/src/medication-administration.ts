import type { Extension, MedicationAdministration, MedicationAdministrationDosage } from '@medplum/fhirtypes';
import { PLANNED_DOSE_LEVEL, type DoseLevel } from '@kap/domain';
import type { DosingSessionRequest, Route } from '@kap/contracts';
import { RXNORM, SNOMED, UCUM, type CodeDef, type UnitDef } from './codes';
import { KAP_CONCEPTS } from './code-system';
import { concept, kapConcept, quantity } from './datatypes';
import { KAP_CANONICAL, resourceId, resourceIdentifier } from './resource-ids';
import type { SessionContext } from './session-context';
import { validateResource } from './validate';

/**
 * The ketamine given in a dosing session, as a MedicationAdministration.
 * @see https://hl7.org/fhir/R4/medicationadministration.html
 */

/**
 * The dose level given (low, moderate, high; our CodeSystem) on `dosage`. R4 has no element
 * for it: `dosage.method` means the technique (e.g. push, infusion), `category` the setting
 * (inpatient, outpatient), and a note or `dosage.text` is not computable. An extension is
 * the FHIR way to add an element the core model lacks; its value is coded, so the planned
 * versus given level can be queried. Its StructureDefinition is not published yet.
 * @see https://hl7.org/fhir/R4/extensibility.html
 */
export const DOSE_LEVEL_EXTENSION = `${KAP_CANONICAL}/StructureDefinition/dose-level`;

/** The SNOMED CT route of each REST route (docs/domain.md#7-codes). */
export const ROUTE_CODES: Readonly<Record<Route, CodeDef>> = {
  sublingual: SNOMED.sublingualRoute,
  intramuscular: SNOMED.intramuscularRoute,
  intravenous: SNOMED.intravenousRoute,
};

const DOSE_UNITS: Readonly<Record<DosingSessionRequest['dose']['unit'], UnitDef>> = { mg: UCUM.mg, 'mg/kg': UCUM.mgPerKg };

function doseText(request: DosingSessionRequest): string {
  const level = KAP_CONCEPTS[request.doseLevel].display.toLowerCase();
  return `Ketamine ${request.dose.value} ${request.dose.unit} ${request.route} (${level})`;
}

/** The level given against the plan, and the clinician's reason for the difference, kept with the administration. */
function deviationNote(request: DosingSessionRequest, planned: DoseLevel, sessionNumber: 1 | 2): string {
  const given =
    planned === request.doseLevel
      ? `Given at the planned ${planned} dose for session ${sessionNumber}.`
      : `Given at a ${request.doseLevel} dose; the course plans a ${planned} dose for session ${sessionNumber}.`;
  return request.doseDeviationReason ? `${given} Reason: ${request.doseDeviationReason}` : given;
}

export interface KetamineAdministrationInput {
  readonly ctx: SessionContext;
  readonly sessionNumber: 1 | 2;
  readonly request: DosingSessionRequest;
}

/**
 * A `completed` administration of ketamine (SNOMED substance and RxNorm ingredient) over the
 * session, `partOf` the session Procedure, in the Encounter (`context`). The dose is
 * `dosage.dose`, a UCUM Quantity in `mg` or, for a weight-based dose, `mg/kg` as given:
 * the adapter records the dose as prescribed and does not convert it (that needs a weight
 * taken for the purpose). `dosage.rate[x]` is a rate per time, so not used. When the level
 * given differs from the one the course plans for this session, a note says so.
 */
export function buildKetamineAdministration(input: KetamineAdministrationInput): MedicationAdministration {
  const { ctx, request, sessionNumber } = input;
  const key = `${ctx.key}/medication-administration`;
  const doseLevel: Extension = { url: DOSE_LEVEL_EXTENSION, valueCodeableConcept: kapConcept(request.doseLevel) };
  const dosage: MedicationAdministrationDosage = {
    extension: [doseLevel],
    text: doseText(request),
    route: concept([ROUTE_CODES[request.route]]),
    dose: quantity(request.dose.value, DOSE_UNITS[request.dose.unit]),
  };
  const planned: DoseLevel = PLANNED_DOSE_LEVEL[sessionNumber];
  const administration: MedicationAdministration = {
    resourceType: 'MedicationAdministration',
    id: resourceId(key),
    identifier: [resourceIdentifier(key)],
    partOf: [ctx.procedure],
    status: 'completed',
    medicationCodeableConcept: concept([SNOMED.ketamine, RXNORM.ketamine], 'Ketamine'),
    subject: ctx.subject,
    context: ctx.encounter,
    effectivePeriod: { start: request.start, end: request.end },
    ...(planned === request.doseLevel && !request.doseDeviationReason
      ? {}
      : { note: [{ text: deviationNote(request, planned, sessionNumber) }] }),
    dosage,
  };
  return validateResource(administration);
}
