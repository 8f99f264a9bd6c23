import type { CodeableConcept, Quantity, Reference, Resource } from '@medplum/fhirtypes';
import { coding, type CodeDef, type UnitDef } from './codes';
import { kapCoding, KAP_CONCEPTS, type KapCode } from './code-system';

/** One helper per datatype, so every builder spells them the same way. */

/** A CodeableConcept of one or more table codes; `text` defaults to the first display. */
export function concept(defs: readonly CodeDef[], text?: string): CodeableConcept {
  const first = defs[0];
  if (!first) throw new Error('A CodeableConcept needs at least one code');
  return { coding: defs.map(coding), text: text ?? first.display };
}

/** A CodeableConcept of one project code. */
export function kapConcept(code: KapCode, text?: string): CodeableConcept {
  return { coding: [kapCoding(code)], text: text ?? KAP_CONCEPTS[code].display };
}

/**
 * A UCUM Quantity. The vital-signs profiles fix `system` and `code`.
 * @see https://hl7.org/fhir/R4/datatypes.html#Quantity
 */
export function quantity(value: number, unit: UnitDef): Quantity {
  return { value, unit: unit.display, system: unit.system, code: unit.code };
}

/** A literal relative reference (`Type/id`) to a built resource. */
export function referenceTo<T extends Resource>(resource: T & { id?: string }, display?: string): Reference<T> {
  if (!resource.id) throw new Error(`Cannot reference a ${resource.resourceType} without an id`);
  return { reference: `${resource.resourceType}/${resource.id}`, ...(display ? { display } : {}) };
}
