import { crawlTypedValue, isResourceType, toTypedValue } from '@medplum/core';
import type { OperationOutcomeIssue, Reference, Resource } from '@medplum/fhirtypes';

/** A literal relative reference `Type/id` or `Type/id/_history/vid`. */
const RELATIVE_REFERENCE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/** A resource's literal reference together with the element path it sits at. */
export interface FoundReference {
  readonly reference: string;
  readonly path: string;
}

/** Every `Reference.reference` value in a resource, with its FHIRPath-like location. */
export function findReferences(resource: Resource): FoundReference[] {
  const found: FoundReference[] = [];
  crawlTypedValue(toTypedValue(resource), {
    visitProperty: (_parent, _key, path, propertyValues) => {
      for (const values of propertyValues) {
        for (const value of Array.isArray(values) ? values : [values]) {
          if (value.type === 'Reference') {
            const reference = (value.value as Reference).reference;
            if (reference) {
              found.push({ reference, path });
            }
          }
        }
      }
    },
  });
  return found;
}

/**
 * Referential-integrity issues: relative references to resources that do not exist, and
 * `urn:uuid:` placeholders left unresolved. Hospital servers (HAPI's default, for example)
 * refuse both, so the sandbox does too: a client that would fail there must fail here.
 * Absolute URLs and contained (`#`) references are not checked.
 * @see http://hl7.org/fhir/R4/references.html#literal
 * @see http://hl7.org/fhir/R4/bundle.html#references
 */
export function danglingReferences(resource: Resource, exists: (resourceType: string, id: string) => boolean): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  for (const { reference, path } of findReferences(resource)) {
    if (reference.startsWith('urn:uuid:') || reference.startsWith('urn:oid:')) {
      issues.push(issue(`Unresolved placeholder reference ${reference}`, path));
      continue;
    }
    const match = RELATIVE_REFERENCE.exec(reference);
    const resourceType = match?.[1];
    const id = match?.[2];
    if (resourceType && id && isResourceType(resourceType) && !exists(resourceType, id)) {
      issues.push(issue(`Reference target ${resourceType}/${id} does not exist`, path));
    }
  }
  return issues;
}

function issue(text: string, path: string): OperationOutcomeIssue {
  return { severity: 'error', code: 'not-found', details: { text }, expression: [path] };
}
