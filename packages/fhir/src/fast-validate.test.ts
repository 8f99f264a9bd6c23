import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { buildCapabilityStatement } from './capability-statement';
import { buildKapCodeSystem } from './code-system';
import { certainlyValid } from './fast-validate';
import { buildCoursePlanDefinition } from './plan-definition';
import { buildScreeningQuestionnaire } from './questionnaire';
import { BASE_URL, RECORDED_AT } from '@kap/testkit/fixtures';
import { loadDefinitions, medplumIssues, validationIssues } from './validate';

/** Every resource the golden Bundles hold, and the definitional resources: what the builders make. */
function corpus(): Resource[] {
  const dir = join(__dirname, '__golden__');
  const fromGolden = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .flatMap((f) => ((JSON.parse(readFileSync(join(dir, f), 'utf8')) as Bundle).entry ?? []).map((e) => e.resource as Resource));
  return [
    ...fromGolden,
    buildScreeningQuestionnaire(),
    buildCoursePlanDefinition(),
    buildKapCodeSystem(),
    buildCapabilityStatement({ baseUrl: BASE_URL, date: RECORDED_AT }),
  ];
}

function typesOf(resource: Resource): string[] {
  const known = loadDefinitions();
  const claimed: unknown = resource.meta?.profile;
  return [resource.resourceType, ...(Array.isArray(claimed) ? claimed : []).filter((p) => known.has(p))];
}

const RESOURCES = corpus();

/** Every path (keys and indexes) to a value inside `value`. */
function paths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'resourceType') continue;
      out.push([...prefix, k]);
      paths(v, [...prefix, k], out);
    }
  }
  return out;
}

const MUTATIONS = {
  delete: (parent: Record<string | number, unknown>, key: string | number) => {
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete parent[key];
  },
  null: (parent: Record<string | number, unknown>, key: string | number) => void (parent[key] = null),
  emptyString: (parent: Record<string | number, unknown>, key: string | number) => void (parent[key] = ''),
  blankString: (parent: Record<string | number, unknown>, key: string | number) => void (parent[key] = ' '),
  spacedCode: (parent: Record<string | number, unknown>, key: string | number) => void (parent[key] = 'a  b'),
  badDate: (parent: Record<string | number, unknown>, key: string | number) => void (parent[key] = '2026-13-45'),
  number: (parent: Record<string | number, unknown>, key: string | number) => void (parent[key] = 1.5),
  negative: (parent: Record<string | number, unknown>, key: string | number) => void (parent[key] = -1),
  boolean: (parent: Record<string | number, unknown>, key: string | number) => void (parent[key] = true),
  emptyArray: (parent: Record<string | number, unknown>, key: string | number) => void (parent[key] = []),
  emptyObject: (parent: Record<string | number, unknown>, key: string | number) => void (parent[key] = {}),
  wrapInArray: (parent: Record<string | number, unknown>, key: string | number) => void (parent[key] = [parent[key]]),
  unwrapArray: (parent: Record<string | number, unknown>, key: string | number) => {
    if (Array.isArray(parent[key])) parent[key] = (parent[key] as unknown[])[0];
  },
  duplicateInArray: (parent: Record<string | number, unknown>, key: string | number) => {
    if (Array.isArray(parent[key])) (parent[key] as unknown[]).push(structuredClone((parent[key] as unknown[])[0]));
  },
  unknownSibling: (parent: Record<string | number, unknown>) => {
    if (!Array.isArray(parent)) parent.unknownElement = 'x';
  },
  secondChoiceVariant: (parent: Record<string | number, unknown>) => {
    if (!Array.isArray(parent)) parent.valueString = 'also';
  },
  primitiveExtension: (parent: Record<string | number, unknown>, key: string | number) => {
    if (!Array.isArray(parent)) parent[`_${key}`] = { extension: [{ url: 'https://example.org/x', valueString: 'y' }] };
  },
} as const;

describe('certainlyValid (the fast check before medplum)', () => {
  it.each(RESOURCES.map((r) => [`${r.resourceType}/${r.id ?? '-'}`, r] as const))('takes %s, as medplum does', (_label, resource) => {
    expect(medplumIssues(resource)).toEqual([]);
    expect(certainlyValid(resource, typesOf(resource))).toBe(true);
    // Again, now from its memos.
    expect(certainlyValid(structuredClone(resource), typesOf(resource))).toBe(true);
  });

  it('never takes what medplum rejects, and validationIssues reports medplum issues exactly', () => {
    fc.assert(
      fc.property(
        fc.nat(RESOURCES.length - 1),
        fc.nat(),
        fc.constantFrom(...(Object.keys(MUTATIONS) as (keyof typeof MUTATIONS)[])),
        (r, p, mutation) => {
          const resource = structuredClone(RESOURCES[r] as Resource);
          const all = paths(resource);
          const path = all[p % all.length] as (string | number)[];
          let parent: Record<string | number, unknown> = resource as unknown as Record<string, unknown>;
          for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
          MUTATIONS[mutation](parent, path[path.length - 1] as string | number);
          const expected = medplumIssues(resource);
          if (certainlyValid(resource, typesOf(resource))) expect(expected).toEqual([]);
          expect(validationIssues(resource)).toEqual(expected);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('refuses the known invalid cases', () => {
    const invalid: Resource[] = [
      { resourceType: 'Consent', status: 'active', scope: { text: 's' }, category: [{ text: 'c' }] } as Resource,
      { resourceType: 'Patient', id: 'p', foo: 1 } as never,
      { resourceType: 'Patient', birthDate: '1950-02-30x' },
      { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueQuantity: { value: 1 }, dataAbsentReason: { text: 'y' } },
    ];
    for (const r of invalid) {
      expect(medplumIssues(r).length).toBeGreaterThan(0);
      expect(certainlyValid(r, typesOf(r))).toBe(false);
    }
  });
});
