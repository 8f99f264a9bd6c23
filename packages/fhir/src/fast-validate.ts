import * as medplum from '@medplum/core';
import type { InternalSchemaElement, InternalTypeSchema, TypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

/**
 * A fast check that a value passes @medplum/core's structural validation, with the same
 * rules (cardinality, types, primitive formats, fixed and pattern values, slices,
 * invariants) read from the same parsed definitions (`getDataType`). Medplum's validator
 * visits every element a type defines, present or not, and evaluates each invariant anew;
 * most of its time went to looking up absent elements. This one visits only the keys a
 * value has, keeps each type's lookups, and remembers what it has seen valid:
 * - a complex data type value (CodeableConcept, Quantity…) by its JSON: its validity
 *   depends on nothing else;
 * - an invariant by the properties its expression reads from its context.
 *
 * It answers only "certainly valid" (`true`) or "maybe not" (`false`); on `false` the
 * caller runs medplum's validator, so every issue reported is medplum's own. Whatever it
 * does not mirror exactly (primitive extensions, empty or null values, two choice-type
 * variants, unknown keys) answers `false`. It must never answer `true` where medplum
 * reports an error: validate.test.ts compares the two.
 */

// Bound once: the bundle's exports are getters, and this module calls them per value.
const {
  arrayify,
  deepEquals,
  deepIncludes,
  evalFhirPathTyped,
  getDataType,
  getElementDefinition,
  getTypedPropertyValue,
  isEmpty,
  isResource,
  matchDiscriminant,
  parseFhirPath,
  toTypedValue,
} = medplum;
const JS_TYPES: Readonly<Record<string, string>> = { ...medplum.fhirTypeToJsType };
const REGEXES: Readonly<Record<string, RegExp>> = { ...medplum.validationRegexes };

/** The invariants medplum does not evaluate (typeschema/validation.ts skippedConstraintKeys). */
const SKIPPED_CONSTRAINTS = new Set(['ele-1', 'dom-3', 'org-1', 'sdf-19']);
const UCUM_VALUE = toTypedValue(medplum.UCUM);
const MEMO_LIMIT = 20_000;

interface Compiled {
  readonly schema: InternalTypeSchema;
  /** A JSON key → its element's name in `schema.elements` and the type of its values (choice-type keys included). */
  readonly byKey: ReadonlyMap<string, { readonly name: string; readonly type: string }>;
  /** For each element with min > 0 (not dotted), the JSON keys any of which it may have. */
  readonly required: readonly (readonly string[])[];
  /** Names of choice-type elements, of which a value may have only one variant. */
  readonly choices: ReadonlySet<string>;
  /** Elements a profile sets on nested paths (`code.coding`), checked as medplum does. */
  readonly dotted: readonly string[];
  readonly rootConstraints: Group;
  readonly memoizable: boolean;
  /**
   * Whether the last value of this type had invariants to evaluate and could be remembered
   * (none of them read beyond it); only then is a memo worth its JSON.
   */
  worthMemo: boolean;
}

interface CompiledConstraint {
  /** Short, for memo keys. */
  readonly id: number;
  readonly expression: string;
  readonly atom: ReturnType<typeof parseFhirPath>;
  /** The property names the expression reads from its context, or undefined if unknown. */
  readonly reads: readonly string[] | undefined;
  /** The same when the context is the root resource, where %resource and %rootResource are the context. */
  readonly readsAtRoot: readonly string[] | undefined;
  /** False when it reads %resource or %rootResource: away from the root, its value depends on more than its context. */
  readonly contextFree: boolean;
}

interface Walk {
  readonly root: TypedValue;
  readonly resources: Resource[];
  /** Set when a context-dependent invariant was evaluated below the current complex value. */
  usedContext: boolean;
  /** Set when any invariant was checked below the current complex value. */
  checked: boolean;
  /**
   * Objects of this resource already found valid (as an element's value of a type) in this
   * call: a resource checked against its type and then a profile has the same data types.
   */
  readonly verified: Map<object, { readonly g: Group; readonly type: string }>;
}

const compiledTypes = new Map<string, Compiled>();
const compiledConstraints = new Map<string, CompiledConstraint>();
const elementConstraints = new WeakMap<InternalSchemaElement, Group>();
let groups = 0;
const validValues = new Set<string>();
const trueConstraints = new Set<string>();

function compile(type: string): Compiled {
  const cached = compiledTypes.get(type);
  if (cached) return cached;
  const schema = getDataType(type);
  const byKey = new Map<string, { name: string; type: string }>();
  const required: string[][] = [];
  const choices = new Set<string>();
  const dotted: string[] = [];
  for (const [name, element] of Object.entries(schema.elements)) {
    if (name.includes('.')) {
      dotted.push(name);
      continue;
    }
    if (name.endsWith('[x]')) {
      const base = name.slice(0, -3);
      choices.add(name);
      if (element.min > 0) required.push(element.type.map((t) => base + t.code.charAt(0).toUpperCase() + t.code.slice(1)));
      for (const t of element.type) {
        const key = base + t.code.charAt(0).toUpperCase() + t.code.slice(1);
        // medplum takes the first of the element's types whose key is present.
        if (!byKey.has(key)) byKey.set(key, { name, type: valueType(t.code, element) });
      }
    } else {
      if (element.min > 0) required.push([name]);
      // An element of several types (none in R4 outside choices) is left to medplum.
      if (element.type.length === 1) byKey.set(name, { name, type: valueType((element.type[0] as { code: string }).code, element) });
    }
  }
  const compiled: Compiled = {
    schema,
    byKey,
    required,
    choices,
    dotted,
    rootConstraints: group(constraintsOf(schema.constraints), true),
    memoizable: schema.kind !== 'resource',
    worthMemo: true,
  };
  compiledTypes.set(type, compiled);
  return compiled;
}

/** As medplum's getTypedPropertyValueWithSchema names the type of an element's values. */
function valueType(code: string, element: InternalSchemaElement): string {
  return code === 'Element' || code === 'BackboneElement' ? (element.type[0] as { code: string }).code : code;
}

function typed(raw: unknown, type: string): TypedValue {
  return { type: type === 'Resource' && isResource(raw) ? raw.resourceType : type, value: raw };
}

function constraintsOf(constraints: InternalSchemaElement['constraints']): CompiledConstraint[] {
  const out: CompiledConstraint[] = [];
  for (const c of constraints ?? []) {
    if (c.severity !== 'error' || SKIPPED_CONSTRAINTS.has(c.key)) continue;
    let compiled = compiledConstraints.get(c.expression);
    if (!compiled) {
      compiled = {
        id: compiledConstraints.size,
        expression: c.expression,
        atom: parseFhirPath(c.expression),
        reads: contextReads(c.expression),
        readsAtRoot: contextReads(c.expression.replace(/%(resource|rootResource)\./g, '')),
        contextFree: !/%(resource|rootResource)\b/.test(c.expression),
      };
      compiledConstraints.set(c.expression, compiled);
    }
    out.push(compiled);
  }
  return out;
}

const OPERATORS = new Set(['and', 'or', 'xor', 'implies', 'is', 'as', 'in', 'contains', 'div', 'mod', 'true', 'false']);

/**
 * The names an invariant reads from its context: identifiers that start a path (not after
 * a `.`). Undefined when the expression may read the context as a whole: a function
 * applied to it (`hasValue()`, `children()`), `$this`, or a %variable other than %ucum.
 * Names read inside `where(...)` are over-counted, which only makes the key longer.
 */
function contextReads(expression: string): string[] | undefined {
  const withoutStrings = expression.replace(/'(?:[^'\\]|\\.)*'/g, "''");
  if (/\$this|%(?!ucum\b)/.test(withoutStrings)) return undefined;
  const names = new Set<string>();
  const token = /(\.?)\s*(`[^`]*`|[A-Za-z_][A-Za-z0-9_]*)(\s*\()?/g;
  for (const m of withoutStrings.matchAll(token)) {
    const [, dot, name = '', call] = m;
    if (dot || OPERATORS.has(name)) continue;
    if (call) return undefined;
    names.add(name.replace(/`/g, ''));
  }
  return [...names];
}

function remember(set: Set<string>, key: string): void {
  if (set.size >= MEMO_LIMIT) set.clear();
  set.add(key);
}

/**
 * The invariants of one element (or of a type at its root), remembered together: those
 * whose reads are known hold for every value that has the same values under those names.
 */
interface Group {
  readonly id: number;
  readonly empty: boolean;
  readonly reads: readonly string[];
  readonly byReads: readonly CompiledConstraint[];
  readonly others: readonly CompiledConstraint[];
  readonly atRoot: boolean;
}

/** Groups by their invariants: a profile's element and the base one it narrows mostly share them, and so their verdicts. */
const groupsBySignature = new Map<string, Group>();

function group(constraints: readonly CompiledConstraint[], atRoot: boolean): Group {
  const signature = `${atRoot}:${constraints.map((c) => c.id).join(',')}`;
  const known = groupsBySignature.get(signature);
  if (known) return known;
  const made = makeGroup(constraints, atRoot);
  groupsBySignature.set(signature, made);
  return made;
}

function makeGroup(constraints: readonly CompiledConstraint[], atRoot: boolean): Group {
  const byReads: CompiledConstraint[] = [];
  const others: CompiledConstraint[] = [];
  const reads = new Set<string>();
  for (const c of constraints) {
    const r = atRoot ? c.readsAtRoot : c.contextFree ? c.reads : undefined;
    if (r) {
      byReads.push(c);
      for (const n of r) reads.add(n);
    } else {
      others.push(c);
    }
  }
  return { id: groups++, empty: constraints.length === 0, reads: [...reads], byReads, others, atRoot };
}

function groupHolds(g: Group, value: TypedValue, walk: Walk): boolean {
  if (g.empty) return true;
  walk.checked = true;
  if (g.byReads.length > 0) {
    const v = value.value;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
    const picked: unknown[] = [];
    for (const k of Object.keys(v)) if (readsKey(g.reads, k)) picked.push(k, (v as Record<string, unknown>)[k]);
    const key = `${g.id}\u0000${value.type}\u0000${JSON.stringify(picked)}`;
    if (!trueConstraints.has(key)) {
      for (const c of g.byReads) if (!evaluate(c, value, walk)) return false;
      remember(trueConstraints, key);
    }
  }
  for (const c of g.others) {
    if (!c.contextFree && !g.atRoot) {
      walk.usedContext = true;
      if (!evaluate(c, value, walk)) return false;
      continue;
    }
    const key = `${c.id}\u0001${value.type}\u0000${JSON.stringify(value.value)}`;
    if (trueConstraints.has(key)) continue;
    if (!evaluate(c, value, walk)) return false;
    remember(trueConstraints, key);
  }
  return true;
}

/** medplum's isExpressionTrue: the same variables, and an error counts as not holding. */
function evaluate(c: CompiledConstraint, value: TypedValue, walk: Walk): boolean {
  const variables: Record<string, TypedValue> = { '%context': value, '%ucum': UCUM_VALUE };
  const current = walk.resources[walk.resources.length - 1];
  if (current) variables['%resource'] = toTypedValue(current);
  if (isResource(walk.root.value)) variables['%rootResource'] = walk.root;
  try {
    const result = evalFhirPathTyped(c.atom, [value], variables);
    return result.length === 1 && result[0]?.value === true;
  } catch {
    return false;
  }
}

/** Whether JSON key `k` is (a choice-type variant or primitive extension of) one of `names`. */
function readsKey(names: readonly string[], k: string): boolean {
  const bare = k.charCodeAt(0) === 95 /* _ */ ? k.slice(1) : k;
  for (const n of names) {
    if (bare === n) return true;
    if (bare.length > n.length && bare.startsWith(n)) {
      const c = bare.charCodeAt(n.length);
      if (c >= 65 && c <= 90) return true;
    }
  }
  return false;
}

/**
 * One step of medplum's getTypedPropertyValue for an element with a schema, its keys and
 * types read once: medplum builds every choice-type key anew per call, the most time of a
 * profile's slicing and nested-path checks.
 */
interface Step {
  /** Each JSON key the element may have, with its values' type, in medplum's order. */
  readonly keys: readonly (readonly [key: string, type: string])[];
}

const steps = new Map<string, Map<string, Step | null>>();

function stepOf(type: string, name: string): Step | null {
  let ofType = steps.get(type);
  if (!ofType) steps.set(type, (ofType = new Map()));
  let step = ofType.get(name);
  if (step !== undefined) return step;
  const element = getElementDefinition(type, name);
  if (!element) {
    step = null;
  } else {
    const last = element.path.slice(element.path.lastIndexOf('.') + 1);
    const first = (element.type[0] as { code: string } | undefined)?.code;
    step = {
      keys: element.type.map((t) => {
        const key = last.replace('[x]', t.code ? t.code.charAt(0).toUpperCase() + t.code.slice(1) : '');
        return [key, t.code === 'Element' || t.code === 'BackboneElement' ? (first as string) : t.code] as const;
      }),
    };
  }
  ofType.set(name, step);
  return step;
}

/** medplum's getTypedPropertyValue (no profile), the same answer for what it is given here. */
function propertyOf(value: TypedValue, name: string): TypedValue | TypedValue[] | undefined {
  const obj = value.value as Record<string, unknown> | undefined;
  if (!obj) return undefined;
  const step = stepOf(value.type, name);
  // No schema (medplum guesses types) or primitive extensions (medplum merges them): medplum's own.
  if (step === null || typeof obj !== 'object') return getTypedPropertyValue(value, name);
  for (const [key, type] of step.keys) {
    const raw = obj[key];
    if (obj[`_${key}`] !== undefined) return getTypedPropertyValue(value, name);
    if (raw === undefined) continue;
    if (isEmpty(raw)) return undefined;
    if (!Array.isArray(raw)) return typed(raw, type);
    const out = new Array<TypedValue>(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = typed(raw[i], type);
    return out;
  }
  return undefined;
}

const splitPaths = new Map<string, readonly string[]>();

/** medplum's getNestedProperty (no options), by propertyOf. */
function nestedProperty(value: TypedValue, path: string): (TypedValue | TypedValue[] | undefined)[] {
  if (path === '$this') return [value];
  let segments = splitPaths.get(path);
  if (!segments) splitPaths.set(path, (segments = path.split('.')));
  let current: (TypedValue | TypedValue[] | undefined)[] = [propertyOf(value, segments[0] as string)];
  for (let s = 1; s < segments.length; s++) {
    const name = segments[s] as string;
    const next: (TypedValue | TypedValue[] | undefined)[] = [];
    for (const u of current) {
      if (Array.isArray(u)) for (const p of u) next.push(propertyOf(p, name));
      else if (u !== undefined) next.push(propertyOf(u, name));
    }
    current = next;
  }
  return current;
}

function primitiveValid(type: string, value: unknown): boolean {
  const expected = JS_TYPES[type];
  if (!expected || typeof value !== expected) return false;
  if (expected === 'string') {
    const s = value as string;
    if (!s.trim() || s.length > 1024 * 1024) return false;
    const regex = REGEXES[type];
    return !regex || regex.test(s);
  }
  if (expected === 'number') {
    const n = value as number;
    if (!Number.isFinite(n)) return false;
    if ((type === 'integer' || type === 'positiveInt' || type === 'unsignedInt') && !Number.isInteger(n)) return false;
    if (type === 'positiveInt' && n <= 0) return false;
    if (type === 'unsignedInt' && n < 0) return false;
  }
  return true;
}

/** medplum's visitProperty for one element's values, answering whether it found nothing wrong. */
function propertyValid(
  values: TypedValue | TypedValue[] | undefined,
  element: InternalSchemaElement,
  walk: Walk,
  recurse: boolean,
): boolean {
  if (values === undefined || (!Array.isArray(values) && values.value === undefined)) return element.min === 0;
  if (Array.isArray(values) ? values.length === 0 : isEmpty(values.value)) return false;
  if (element.isArray ? !Array.isArray(values) : Array.isArray(values)) return false;
  const list = arrayify(values) as TypedValue[];
  if (list.length < element.min || list.length > element.max) return false;
  if (element.pattern || element.fixed) {
    const typeAndValue = Array.isArray(values)
      ? values.map((v) => ({ type: v.type, value: v.value }))
      : { type: values.type, value: values.value };
    if (element.pattern && !deepIncludes(typeAndValue, element.pattern)) return false;
    if (element.fixed && !deepEquals(typeAndValue, element.fixed)) return false;
  }
  let constraints = elementConstraints.get(element);
  if (!constraints) elementConstraints.set(element, (constraints = group(constraintsOf(element.constraints), false)));
  const slicing = element.slicing;
  const counts = slicing ? new Map(slicing.slices.map((s) => [s.name, 0])) : undefined;
  for (const v of list) {
    if (v.value === null || v.value === undefined) return false;
    if (v.type in JS_TYPES || v.type === 'undefined') {
      if (!groupHolds(constraints, v, walk) || !primitiveValid(v.type, v.value)) return false;
    } else if (isEmpty(v.value)) {
      return false;
    } else if (recurse ? !complexValid(v, constraints, walk) : !groupHolds(constraints, v, walk)) {
      return false;
    }
    if (slicing && counts) {
      const name = slicing.slices.find((slice) =>
        slicing.discriminator.every((d) => arrayify(nestedProperty(v, d.path))?.some((x) => matchDiscriminant(x, d, slice))),
      )?.name;
      if (name !== undefined) counts.set(name, (counts.get(name) ?? 0) + 1);
    }
  }
  if (slicing && counts) {
    for (const slice of slicing.slices) {
      const n = counts.get(slice.name) ?? 0;
      if (n < slice.min || n > slice.max) return false;
    }
  }
  return true;
}

/** A complex value of an element: the element's invariants on it, then its own content. */
function complexValid(value: TypedValue, g: Group, walk: Walk): boolean {
  const compiled = compile(value.type);
  const obj = value.value as object;
  const verified = walk.verified.get(obj);
  if (verified && verified.g === g && verified.type === value.type) return true;
  let memoKey: string | undefined;
  if (compiled.memoizable && compiled.worthMemo) {
    memoKey = `${g.id}\u0000${value.type}\u0000${JSON.stringify(obj)}`;
    if (validValues.has(memoKey)) return true;
  }
  const outer = { usedContext: walk.usedContext, checked: walk.checked };
  walk.usedContext = false;
  walk.checked = false;
  let ok = groupHolds(g, value, walk);
  if (ok) {
    const isRes = isResource(obj);
    if (isRes) walk.resources.push(obj as Resource);
    ok = objectValid(value, compiled, walk);
    if (isRes) walk.resources.pop();
  }
  if (ok && !walk.usedContext) {
    if (memoKey) remember(validValues, memoKey);
    walk.verified.set(obj, { g, type: value.type });
  }
  compiled.worthMemo = walk.checked && !walk.usedContext;
  walk.usedContext = walk.usedContext || outer.usedContext;
  walk.checked = walk.checked || outer.checked;
  return ok;
}

function objectValid(value: TypedValue, compiled: Compiled, walk: Walk): boolean {
  const obj = value.value as Record<string, unknown>;
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return false;
  const elements = compiled.schema.elements;
  let choicesSeen: string[] | undefined;
  for (const key of Object.keys(obj)) {
    if (key === 'resourceType') continue;
    const target = compiled.byKey.get(key);
    // Unknown keys, primitive extensions (`_key`), elements of several types: medplum decides.
    if (target === undefined) return false;
    if (compiled.choices.has(target.name)) {
      // Two variants of one choice type: medplum reads only the first, and warns.
      if (choicesSeen?.includes(target.name)) return false;
      (choicesSeen ??= []).push(target.name);
    }
    const element = elements[target.name] as InternalSchemaElement;
    const raw = obj[key];
    if (raw === null || raw === undefined) return false;
    let values: TypedValue | TypedValue[] | undefined;
    if (Array.isArray(raw)) {
      values = new Array<TypedValue>(raw.length);
      for (let i = 0; i < raw.length; i++) {
        const x: unknown = raw[i];
        if (x === null || x === undefined) return false;
        values[i] = typed(x, target.type);
      }
      // medplum reads an empty value as absent, which then is or is not an additional property: it decides.
      if (raw.length === 0) return false;
    } else {
      if (isEmpty(raw)) return false;
      values = typed(raw, target.type);
    }
    if (!propertyValid(values, element, walk, true)) return false;
  }
  for (const keys of compiled.required) if (!keys.some((k) => obj[k] !== undefined)) return false;
  for (const name of compiled.dotted) {
    const element = elements[name] as InternalSchemaElement;
    for (const values of nestedProperty(value, name)) {
      // medplum visits the nested values again with their own types; they were checked above.
      if (!propertyValid(values, element, walk, false)) return false;
    }
  }
  return true;
}

/**
 * True when `resource` certainly passes medplum's validation against each of `types` (its
 * resource type, profile URLs loaded as data types). False means "ask medplum".
 */
export function certainlyValid(resource: Resource, types: readonly string[]): boolean {
  if (!resource || typeof resource !== 'object' || !resource.resourceType) return false;
  const verified: Walk['verified'] = new Map();
  for (const type of types) {
    let compiled: Compiled;
    try {
      compiled = compile(type);
    } catch {
      return false;
    }
    const root: TypedValue = { type, value: resource };
    const walk: Walk = { root, resources: [resource], usedContext: false, checked: false, verified };
    if (!groupHolds(compiled.rootConstraints, root, walk) || !objectValid(root, compiled, walk)) return false;
  }
  return true;
}
