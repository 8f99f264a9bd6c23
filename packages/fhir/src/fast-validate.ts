import * as medplum from '@medplum/core';
import type { InternalSchemaElement, InternalTypeSchema, TypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

/**
 * A fast check that a value passes @medplum/core's structural validation, with the same
 * rules (cardinality, types, primitive formats, fixed and pattern values, slices,
 * invariants) read from the same parsed definitions (`getDataType`). Medplum's validator
 * visits every element a type defines, present or not, and evaluates each invariant anew;
 * most of its time went to looking up absent elements. This one visits only the keys a
 * value has, keeps each type's lookups, and remembers the invariants it has seen hold, by
 * what each reads from its context (readingsOf): a name the expression only tests with
 * `exists()` or `empty()` by whether it has values (so a Quantity's number or a nested
 * item's answers never re-key it); a name read only through one property by that property
 * of its values; a name read only inside `where(...)` over another by nothing while that
 * one is empty; any other name by its JSON, and by which of its objects are the same one
 * where the expression compares by identity. What held is remembered only once the whole
 * resource is found valid.
 *
 * It answers only "certainly valid" (`true`) or "maybe not" (`false`); on `false` the
 * caller runs medplum's validator, so every issue reported is medplum's own. Whatever it
 * does not mirror exactly (primitive extensions, empty or null values, two choice-type
 * variants, unknown keys) answers `false`. It must never answer `true` where medplum
 * reports an error: fast-validate.test.ts compares the two.
 */

// Bound once: the bundle's exports are getters, and this module calls them per value.
const {
  arrayify,
  DotAtom,
  FunctionAtom,
  SymbolAtom,
  evalFhirPathTyped,
  getDataType,
  getElementDefinition,
  getTypedPropertyValue,
  isResource,
  parseFhirPath,
  toTypedValue,
} = medplum;
const JS_TYPES: Readonly<Record<string, string>> = { ...medplum.fhirTypeToJsType };
const REGEXES: Readonly<Record<string, RegExp>> = { ...medplum.validationRegexes };

/**
 * medplum's isEmpty (utils.ts: null, undefined, '', or an object with neither a positive
 * `length` nor an own enumerable key), without the array Object.keys builds to count keys.
 */
export function empty(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  const t = typeof v;
  if (t === 'string') return v === '';
  if (t !== 'object') return false;
  // isPopulated: a positive `length` or an own key (an array has a length; an object most often keys).
  if (Array.isArray(v) && v.length > 0) return false;
  const o = v as { length?: unknown };
  for (const k in o) if (Object.hasOwn(o, k)) return false;
  return !('length' in o && (o.length as number) > 0);
}

/** The invariants medplum does not evaluate (typeschema/validation.ts skippedConstraintKeys). */
const SKIPPED_CONSTRAINTS = new Set(['ele-1', 'dom-3', 'org-1', 'sdf-19']);
const UCUM_VALUE = toTypedValue(medplum.UCUM);
const MEMO_LIMIT = 20_000;

interface Compiled {
  readonly schema: InternalTypeSchema;
  /** A JSON key → how its values are checked (choice-type keys included). */
  readonly byKey: ReadonlyMap<string, Entry>;
  /** For each element with min > 0 (not dotted), the JSON keys any of which it may have. */
  readonly required: readonly (readonly string[])[];
  /** Elements a profile sets on nested paths (`code.coding`), checked as medplum does, by their first step. */
  readonly dotted: readonly Dotted[];
  readonly rootConstraints: Group;
  /** The key lists lately seen of values of this type, checked (shapeOf). */
  readonly shapes: Shape[];
}

/**
 * What objectValid finds of a list of own keys before reading any value: each key's entry,
 * and whether the list itself is fine (every key known, one variant per choice, every
 * required element there). Values of one type mostly come with the same keys in the same
 * order (the builders write them so), so this is looked up rather than worked out.
 */
interface Shape {
  readonly keys: readonly string[];
  /** Per key, its entry (undefined for `resourceType`, which is skipped). */
  readonly entries: readonly (Entry | undefined)[];
  readonly ok: boolean;
  readonly hasResourceType: boolean;
}

const SHAPES_KEPT = 8;

function shapeOf(compiled: Compiled, keys: readonly string[]): Shape {
  const shapes = compiled.shapes;
  for (let s = 0; s < shapes.length; s++) {
    const shape = shapes[s] as Shape;
    const known = shape.keys;
    if (known.length !== keys.length) continue;
    let i = 0;
    while (i < keys.length && known[i] === keys[i]) i++;
    if (i === keys.length) return shape;
  }
  const shape = makeShape(compiled, keys);
  if (shapes.length >= SHAPES_KEPT) shapes.pop();
  shapes.unshift(shape);
  return shape;
}

function makeShape(compiled: Compiled, keys: readonly string[]): Shape {
  const entries: (Entry | undefined)[] = [];
  let ok = true;
  const choicesSeen: string[] = [];
  for (const key of keys) {
    if (key === 'resourceType') {
      entries.push(undefined);
      continue;
    }
    const entry = compiled.byKey.get(key);
    entries.push(entry);
    // Unknown keys, primitive extensions (`_key`), elements of several types: medplum decides.
    if (entry === undefined) ok = false;
    else if (entry.choice) {
      // Two variants of one choice type: medplum reads only the first, and warns.
      if (choicesSeen.includes(entry.name)) ok = false;
      choicesSeen.push(entry.name);
    }
  }
  // A required element is there when one of its keys is (objectValid refuses a key without a value).
  for (const required of compiled.required) if (!required.some((k) => keys.includes(k))) ok = false;
  return { keys: [...keys], entries, ok, hasResourceType: keys.includes('resourceType') };
}

/** The nested paths of a profile that start with one property: it is read once for all of them. */
interface Dotted {
  readonly first: string;
  readonly paths: readonly { readonly rest: readonly string[]; readonly element: InternalSchemaElement }[];
}

/** One JSON key of a type: its element, and what its values are, looked up once. */
interface Entry {
  /** The element's name in `schema.elements` (`value[x]` for `valueQuantity`). */
  readonly name: string;
  readonly element: InternalSchemaElement;
  /** The type of its values, as medplum's getTypedPropertyValueWithSchema names it. */
  readonly type: string;
  readonly choice: boolean;
  /** `Resource`: each value's type is its resourceType, decided per value. */
  readonly resource: boolean;
  /** Whether medplum checks its values as primitives (isPrimitiveType); unused when `resource`. */
  readonly primitive: boolean;
  /** For a primitive, what primitiveValid reads for its type, looked up once (undefined: not a known primitive). */
  readonly format: Format | undefined;
  readonly constraints: Group;
  /** Its values' type compiled, once first needed (complex types, not `resource`). */
  compiled: Compiled | undefined;
}

/** What validatePrimitiveType checks of one primitive type. */
interface Format {
  readonly type: string;
  readonly jsType: 'string' | 'number' | 'boolean';
  readonly regex: RegExp | undefined;
  readonly integer: boolean;
  readonly positive: boolean;
  readonly nonNegative: boolean;
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
  /** How it reads the names of `reads` (see readingsOf). */
  readonly readings: Readings;
  /** The same for `readsAtRoot`. */
  readonly readingsAtRoot: Readings;
  /**
   * Whether it may compare values by identity (intersect, exclude, distinct, subsetOf,
   * supersetOf compare `e.value === value.value`; the `contains` operator likewise): equal
   * JSON is then not enough, which objects are the same one matters too (identityJson).
   */
  readonly identity: boolean;
  /** Values (by type) it held for, when its reads are unknown: strings as they are, anything else by its JSON. */
  readonly held: Map<string, { readonly strings: Set<string>; readonly json: Set<string> }>;
}

interface Walk {
  readonly root: TypedValue;
  /**
   * The complex values the walk is inside, the resource first: the innermost of them that
   * is a resource is %resource (medplum's currentResource, pushed on entering a resource),
   * looked for only when an invariant is evaluated.
   */
  readonly ancestors: object[];
  /** Set when a context-dependent invariant was evaluated below the current complex value. */
  usedContext: boolean;
  /**
   * Objects of this resource already found valid (as an element's value of a type) in this
   * call: a resource checked against its type and then a profile has the same data types.
   */
  readonly verified: Map<object, { readonly g: Group; readonly type: string }>;
  /** Whether an earlier type of this call recorded in `verified`. */
  readonly reuse: boolean;
  /** Whether a later type of this call will read `verified`. */
  readonly record: boolean;
  /**
   * The resource's own keys whose values the first type found valid with no invariant that
   * reads beyond them (usedContext): a later type whose element for the key checks exactly
   * the same (sameChecks) has nothing to add.
   */
  readonly cleanKeys: Uint8Array;
  /**
   * JSON a root group's names read of the resource (readsKey), by what the group reads:
   * the profile's root group reads what the type's did.
   */
  readonly rootJson: Map<number, string | undefined> | undefined;
  /** The first type's compiled form, whose entries a later type's are compared with. */
  readonly first: Compiled | undefined;
  /** Verdicts to remember (set, key, set, key…), once the whole resource is found valid (see groupHolds). */
  readonly pending: unknown[];
}

const compiledTypes = new Map<string, Compiled>();
const compiledConstraints = new Map<string, CompiledConstraint>();
const elementConstraints = new WeakMap<InternalSchemaElement, Group>();
let groups = 0;
/** How many verdicts the groups and invariants below remember in all; past MEMO_LIMIT they start again. */
let remembered = 0;
/** Everything that remembers verdicts, to be emptied together. */
const memos: Set<unknown>[] = [];

function compile(type: string): Compiled {
  const cached = compiledTypes.get(type);
  if (cached) return cached;
  const schema = getDataType(type);
  const byKey = new Map<string, Entry>();
  const required: string[][] = [];
  const dotted: Dotted[] = [];
  const entry = (name: string, element: InternalSchemaElement, code: string, choice: boolean): Entry => {
    const valuesType = valueType(code, element);
    return {
      name,
      element,
      type: valuesType,
      choice,
      resource: valuesType === 'Resource',
      primitive: valuesType in JS_TYPES || valuesType === 'undefined',
      format: formatOf(valuesType),
      constraints: constraintsGroupOf(element),
      compiled: undefined,
    };
  };
  for (const [name, element] of Object.entries(schema.elements)) {
    if (name.includes('.')) {
      const [first = '', ...rest] = name.split('.');
      let d = dotted.find((x) => x.first === first);
      if (!d) dotted.push((d = { first, paths: [] }));
      (d.paths as { rest: readonly string[]; element: InternalSchemaElement }[]).push({ rest, element });
      continue;
    }
    if (name.endsWith('[x]')) {
      const base = name.slice(0, -3);
      if (element.min > 0) required.push(element.type.map((t) => base + t.code.charAt(0).toUpperCase() + t.code.slice(1)));
      for (const t of element.type) {
        const key = base + t.code.charAt(0).toUpperCase() + t.code.slice(1);
        // medplum takes the first of the element's types whose key is present.
        if (!byKey.has(key)) byKey.set(key, entry(name, element, t.code, true));
      }
    } else {
      if (element.min > 0) required.push([name]);
      // An element of several types (none in R4 outside choices) is left to medplum.
      if (element.type.length === 1) byKey.set(name, entry(name, element, (element.type[0] as { code: string }).code, false));
    }
  }
  const compiled: Compiled = {
    schema,
    byKey,
    required,
    dotted,
    rootConstraints: group(constraintsOf(schema.constraints), true),
    shapes: [],
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

function constraintsGroupOf(element: InternalSchemaElement): Group {
  let constraints = elementConstraints.get(element);
  if (!constraints) elementConstraints.set(element, (constraints = group(constraintsOf(element.constraints), false)));
  return constraints;
}

function constraintsOf(constraints: InternalSchemaElement['constraints']): CompiledConstraint[] {
  const out: CompiledConstraint[] = [];
  for (const c of constraints ?? []) {
    if (c.severity !== 'error' || SKIPPED_CONSTRAINTS.has(c.key)) continue;
    let compiled = compiledConstraints.get(c.expression);
    if (!compiled) {
      const atom = parseFhirPath(c.expression);
      const reads = contextReads(c.expression);
      const readsAtRoot = contextReads(c.expression.replace(/%(resource|rootResource)\./g, ''));
      compiled = {
        id: compiledConstraints.size,
        expression: c.expression,
        atom,
        reads,
        readsAtRoot,
        contextFree: !/%(resource|rootResource)\b/.test(c.expression),
        readings: readingsOf(atom, reads),
        readingsAtRoot: readingsOf(atom, readsAtRoot),
        identity: IDENTITY_OPERATIONS.test(c.expression),
        held: new Map(),
      };
      compiledConstraints.set(c.expression, compiled);
    }
    out.push(compiled);
  }
  return out;
}

/** FHIRPath functions and operators of medplum's that compare values by identity (see CompiledConstraint.identity). */
const IDENTITY_OPERATIONS = /\b(intersect|exclude|distinct|isDistinct|subsetOf|supersetOf|contains)\b/;

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

type Atom = ReturnType<typeof parseFhirPath>['child'];

/** What an invariant's parsed expression says of the names it reads (see readingsOf). */
interface Readings {
  /** Names it only tests with a bare `exists()` or `empty()`. */
  readonly presence: ReadonlySet<string>;
  /** Names it reads only while evaluating a function's argument over another name's values: name → that other name. */
  readonly guards: ReadonlyMap<string, string>;
  /** Names it reads only through one property of their values (`component.code…`): name → that property. */
  readonly through: ReadonlyMap<string, string>;
}

const NO_READINGS: Readings = { presence: new Set(), guards: new Map(), through: new Map() };

/** Functions that evaluate their argument once per input value, so never on an empty input (functions.ts). */
const PER_VALUE_FUNCTIONS = new Set(['where', 'select', 'all', 'exists']);

/**
 * A name that may be a variable rather than a property: SymbolAtom.eval looks a name up in
 * the variables first (%-names, `$this`, and, the variables being a plain object, its
 * prototype's keys) and returns the variable whatever its input.
 */
function variableLike(name: string): boolean {
  return name.startsWith('%') || name.startsWith('$') || name in Object.prototype;
}

/**
 * How the parsed expression reads each of `reads` (the names contextReads found) from its
 * context, so a memo key can record less than their JSON:
 * - `presence`: every identifier of that name not after a `.` is the left of a `.` whose
 *   right is a bare `exists()` or `empty()`. Evaluation (DotAtom: right.eval(left.eval(input)))
 *   then hands the rest of the expression only their boolean, which presenceOf reproduces;
 * - `guards`: every read of that name (not after a `.`, or after %resource or %rootResource,
 *   which at the root are the context) sits in the argument of `where`, `select`, `all` or
 *   `exists` applied to a path of properties (and `where`/`select`) starting from another
 *   name G read from the context itself. When G has no values the path yields none, and
 *   those functions (input.filter, input.map, input.every) never evaluate the argument:
 *   the name is not read at all;
 * - `through`: every read of that name (as above) is the left of a `.` whose right is the
 *   same property name P, and no read tests it: SymbolAtom P on each of its values reads
 *   only the keys of P (P, `_P`, `P<Type>`) and whether the value is a resource named P
 *   (getTypedPropertyValue, isResource), so the rest of each value cannot matter, as long
 *   as the values' type comes from the schema (GroupMemo.projectable).
 * A name after %resource or %rootResource is never a presence name. Nothing is found when
 * the parsed identifiers are not all among `reads`: the two readings would disagree.
 */
function readingsOf(root: ReturnType<typeof parseFhirPath>, reads: readonly string[] | undefined): Readings {
  if (!reads) return NO_READINGS;
  const tested = new Set<string>();
  const other = new Set<string>();
  const guardOf = new Map<string, string | undefined>();
  const throughOf = new Map<string, string | undefined>();
  const seen = (name: string, test: boolean, guard: string | undefined, after: string | undefined): void => {
    (test ? tested : other).add(name);
    guardOf.set(name, guardOf.has(name) && guardOf.get(name) !== guard ? undefined : guard);
    throughOf.set(name, throughOf.has(name) && throughOf.get(name) !== after ? undefined : after);
  };
  /** The property a `.` reads on its left's values, when its right is one. */
  const propertyAfter = (dot: Atom): string | undefined =>
    dot instanceof DotAtom && dot.right instanceof SymbolAtom && !variableLike(dot.right.name) ? dot.right.name : undefined;
  /** The name a path of properties, `where` and `select` starts from, when it starts from the context. */
  const pathStart = (atom: Atom): string | undefined => {
    if (atom instanceof SymbolAtom) return variableLike(atom.name) ? undefined : atom.name;
    if (!(atom instanceof DotAtom)) return undefined;
    const right = atom.right;
    const step =
      (right instanceof SymbolAtom && !variableLike(right.name)) ||
      (right instanceof FunctionAtom && (right.name === 'where' || right.name === 'select') && right.args.length > 0);
    return step ? pathStart(atom.left) : undefined;
  };
  // `onContext`: the atom is evaluated on the invariant's context (not after a `.`, not in an argument).
  // `after`: the property the enclosing `.` reads on this atom's values, if any.
  const visit = (
    atom: Atom,
    parent: Atom | undefined,
    side: string | undefined,
    onContext: boolean,
    guard: string | undefined,
    after: string | undefined,
  ): void => {
    if (atom instanceof SymbolAtom) {
      if (side === 'right' && parent instanceof DotAtom) {
        const left = parent.left;
        if (left instanceof SymbolAtom && (left.name === '%resource' || left.name === '%rootResource'))
          seen(atom.name, false, guard, after);
        return;
      }
      const test =
        side === 'left' &&
        parent instanceof DotAtom &&
        parent.right instanceof FunctionAtom &&
        (parent.right.name === 'exists' || parent.right.name === 'empty') &&
        parent.right.args.length === 0;
      seen(atom.name, test, guard, side === 'left' ? after : undefined);
      return;
    }
    if (atom instanceof DotAtom) {
      const right = atom.right;
      const start =
        onContext && right instanceof FunctionAtom && PER_VALUE_FUNCTIONS.has(right.name) && right.args.length > 0
          ? pathStart(atom.left)
          : undefined;
      visit(atom.left, atom, 'left', onContext, guard, propertyAfter(atom));
      if (start !== undefined && right instanceof FunctionAtom) {
        for (const arg of right.args) visit(arg, right, undefined, false, guard ?? start, undefined);
      } else {
        visit(right, atom, 'right', false, guard, after);
      }
      return;
    }
    if (atom instanceof FunctionAtom) {
      for (const arg of atom.args) visit(arg, atom, undefined, false, guard, undefined);
      return;
    }
    for (const [field, child] of Object.entries(atom)) {
      const children: unknown[] = Array.isArray(child) ? child : [child];
      for (const c of children) {
        if (c !== null && typeof c === 'object' && typeof (c as Atom).eval === 'function') {
          visit(c as Atom, atom, field, onContext, guard, undefined);
        }
      }
    }
  };
  visit(root.child, undefined, undefined, true, undefined, undefined);
  const known = new Set(reads);
  for (const name of tested) if (!name.startsWith('%') && !known.has(name)) return NO_READINGS;
  for (const name of other) if (!name.startsWith('%') && !known.has(name) && !OPERATORS.has(name)) return NO_READINGS;
  const presence = new Set<string>();
  for (const name of tested) if (!other.has(name) && !variableLike(name)) presence.add(name);
  const guards = new Map<string, string>();
  for (const [name, guard] of guardOf) if (guard !== undefined && guard !== name && known.has(name)) guards.set(name, guard);
  const through = new Map<string, string>();
  for (const [name, property] of throughOf) if (property !== undefined && !tested.has(name) && known.has(name)) through.set(name, property);
  return { presence, guards, through };
}

/**
 * The invariants of one element (or of a type at its root), remembered together: those
 * whose reads are known hold for every value that reads the same under those names.
 */
interface Group {
  readonly id: number;
  readonly empty: boolean;
  /** Names some invariant of `byReads` only tests (`exists()`, `empty()`): keyed by whether they have values. */
  readonly presence: readonly string[];
  /** Names some invariant of `byReads` reads by value: keyed by their JSON (projected, or left out under a guard). */
  readonly reads: readonly string[];
  /** Names whose emptiness decides whether some of `reads` are read at all (Readings.guards). */
  readonly guardNames: readonly string[];
  /** Of `reads`, each one read only under a guard: its index in `guardNames`. */
  readonly guardedBy: ReadonlyMap<string, number>;
  /** Of `reads`, each one read only through one property (Readings.through): that property. */
  readonly through: ReadonlyMap<string, string>;
  /** keyReadOf, by key. */
  readonly keyReads: Map<string, KeyRead | null>;
  /** What decides readsJson (names, guards, properties, identity), numbered: groups alike in it read the same JSON of one object. */
  readonly readsId: number;
  /** The names whose presence the key records: `presence`, then the `guardNames` not among them. */
  readonly tested: readonly string[];
  /** For each of `tested`, its index in `guardNames`, or -1. */
  readonly guardOfTested: readonly number[];
  /** Whether an invariant of `byReads` compares by identity (CompiledConstraint.identity). */
  readonly identity: boolean;
  /** What it remembers per type of value (see readsKey). */
  readonly memo: Map<string, GroupMemo>;
  lastType: string | undefined;
  lastMemo: GroupMemo | undefined;
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
  const tested = new Set<string>();
  const guards = new Map<string, string | undefined>();
  const through = new Map<string, string | undefined>();
  for (const c of constraints) {
    const r = atRoot ? c.readsAtRoot : c.contextFree ? c.reads : undefined;
    if (r) {
      byReads.push(c);
      const readings = atRoot ? c.readingsAtRoot : c.readings;
      for (const n of r) {
        if (readings.presence.has(n)) {
          tested.add(n);
          continue;
        }
        // Guards and properties are those of the invariants that read the name's values.
        reads.add(n);
        const guard = readings.guards.get(n);
        guards.set(n, guards.has(n) && guards.get(n) !== guard ? undefined : guard);
        const property = readings.through.get(n);
        through.set(n, through.has(n) && through.get(n) !== property ? undefined : property);
      }
    } else {
      others.push(c);
    }
  }
  // A name tested by some invariants and read by value by others is keyed both ways: by whether it
  // has values for the first, by its (projected) JSON for the others. It is guarded, or read through
  // a property, only if so in all of the others.
  const presence = [...tested];
  const guardNames: string[] = [];
  const guardedBy = new Map<string, number>();
  for (const n of reads) {
    const guard = guards.get(n);
    if (guard === undefined) continue;
    if (!guardNames.includes(guard)) guardNames.push(guard);
    guardedBy.set(n, guardNames.indexOf(guard));
  }
  return {
    id: groups++,
    empty: constraints.length === 0,
    presence,
    reads: [...reads],
    guardNames,
    guardedBy,
    through: new Map([...through].filter((e): e is [string, string] => e[1] !== undefined && reads.has(e[0]))),
    keyReads: new Map(),
    readsId: readsIdOf(JSON.stringify([[...reads], guardNames, [...guardedBy], [...through], byReads.some((c) => c.identity)])),
    lastType: undefined,
    lastMemo: undefined,
    tested: [...new Set([...presence, ...guardNames])],
    guardOfTested: [...new Set([...presence, ...guardNames])].map((n) => guardNames.indexOf(n)),
    identity: byReads.some((c) => c.identity),
    memo: new Map(),
    byReads,
    others,
    atRoot,
  };
}

const readsIds = new Map<string, number>();

function readsIdOf(signature: string): number {
  let id = readsIds.get(signature);
  if (id === undefined) readsIds.set(signature, (id = readsIds.size));
  return id;
}

/** A group's memory for values of one type. */
interface GroupMemo {
  /** For each of the group's `tested` names, how this type reads it (stepOf). */
  readonly steps: readonly (Step | null)[];
  /**
   * Every JSON key of a tested name (and its `_` key): (name index × 64 + its place among the
   * name's keys) × 2, plus 1 for the `_` key. Undefined when keys do not map to one name each,
   * or a key is Object.prototype's (then presenceOf reads the keys one by one).
   */
  readonly keyIndex: ReadonlyMap<string, number> | undefined;
  /** Scratch for readsKey: per tested name, the first of its keys present (and whether as `_key`). */
  readonly first: Int32Array;
  /** The readsKey of every value the group's invariants held for. */
  readonly held: Set<number | string>;
  /** The presences (readsKey's number) a shape of keys gives (shapeCode). */
  readonly codes: Map<Shape, number>;
  /**
   * Whether this type has an element for every name read through a property (Group.through):
   * only then are its values typed by the schema alone. Without one, medplum types them by
   * their content (toTypedValue: a Quantity, a CodeableConcept…), so all of it is kept.
   */
  readonly projectable: boolean;
}

function remember<T>(set: Set<T>, key: T): void {
  if (remembered >= MEMO_LIMIT) {
    for (const m of memos) m.clear();
    remembered = 0;
  }
  set.add(key);
  remembered++;
}

function memoOf(g: Group, type: string): GroupMemo {
  // Most groups see one type: the last one is kept at hand.
  if (g.lastType === type) return g.lastMemo as GroupMemo;
  let m = g.memo.get(type);
  if (!m) {
    const steps = g.tested.map((name) => stepOf(type, name));
    m = {
      steps,
      keyIndex: keyIndexOf(steps),
      first: new Int32Array(steps.length),
      held: new Set(),
      codes: new Map(),
      projectable: [...g.through.keys()].every((name) => stepOf(type, name) !== null),
    };
    memos.push(m.held);
    g.memo.set(type, m);
  }
  g.lastType = type;
  g.lastMemo = m;
  return m;
}

function keyIndexOf(steps: readonly (Step | null)[]): ReadonlyMap<string, number> | undefined {
  const index = new Map<string, number>();
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (!step || step.keys.length >= 32) return undefined;
    for (let j = 0; j < step.keys.length; j++) {
      const [key, , extension] = step.keys[j] as Step['keys'][number];
      for (const [k, n] of [
        [key, (i * 64 + j) * 2],
        [extension, (i * 64 + j) * 2 + 1],
      ] as const) {
        if (index.has(k) || k in Object.prototype) return undefined;
        index.set(k, n);
      }
    }
  }
  return index;
}

/**
 * Whether the group's invariants hold for `value`, from memory where they have held for a
 * value that reads the same (readsKey). What held is remembered only once the whole
 * resource is found valid (certainlyValid commits `walk.pending`): a key then has to tell
 * apart only values that pass every other check, and a value that does not would be
 * refused whatever its invariants answered.
 */
function groupHolds(
  g: Group,
  value: TypedValue,
  walk: Walk,
  keys?: readonly string[],
  json?: Map<number, string | undefined>,
  shape?: Shape,
): boolean {
  if (g.empty) return true;
  if (g.byReads.length > 0) {
    const v = value.value;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
    const m = memoOf(g, value.type);
    const key = readsKey(g, m, v as Record<string, unknown>, keys, json, shape);
    if (key === undefined || !m.held.has(key)) {
      for (const c of g.byReads) if (!evaluate(c, value, walk)) return false;
      if (key !== undefined) walk.pending.push(m.held, key);
    }
  }
  for (const c of g.others) {
    if (!c.contextFree && !g.atRoot) {
      walk.usedContext = true;
      if (!evaluate(c, value, walk)) return false;
      continue;
    }
    let held = c.held.get(value.type);
    if (!held) {
      c.held.set(value.type, (held = { strings: new Set(), json: new Set() }));
      memos.push(held.strings, held.json);
    }
    const v = value.value;
    const json = typeof v === 'string' ? v : c.identity ? identityJson([v]) : JSON.stringify([v]);
    if (json === undefined) {
      if (!evaluate(c, value, walk)) return false;
      continue;
    }
    const set = typeof v === 'string' ? held.strings : held.json;
    const key = json;
    if (set.has(key)) continue;
    if (!evaluate(c, value, walk)) return false;
    walk.pending.push(set, key);
  }
  return true;
}

/** Up to this many tested names, their presences make one exact number (2 ** 52 < 2 ** 53). */
const MAX_NUMBERED = 52;

/**
 * What the group's invariants read from `obj` (a value of the memo's type): for each
 * tested name (presence names and guards), its presenceOf, as the bits of a number; then
 * the JSON of the keys under the names read by value, but for those whose guard has no
 * values (they are not read). A number when there is no such JSON. Undefined when a
 * reading is not certain here (the invariants are then evaluated unmemoized).
 */
function readsKey(
  g: Group,
  m: GroupMemo,
  obj: Record<string, unknown>,
  keys: readonly string[] | undefined,
  cache: Map<number, string | undefined> | undefined,
  shape: Shape | undefined,
): number | string | undefined {
  const steps = m.steps;
  if (steps.length > MAX_NUMBERED) return undefined;
  let code = 0;
  let unread: boolean[] | undefined;
  // Up to 30 names, the presences fit the bits of an int.
  if (steps.length > 0 && steps.length <= 30 && shape && m.keyIndex && plain(obj)) {
    // SymbolAtom returns a resource named as the name itself.
    if (shape.hasResourceType && g.tested.includes(obj.resourceType as string)) return undefined;
    code = shapeCode(m, m.keyIndex, shape);
    if (code < 0) return undefined;
    for (let i = 0; i < steps.length; i++) {
      const guard = g.guardOfTested[i] as number;
      if (guard >= 0 && !(code & (1 << i))) (unread ??= [])[guard] = true;
    }
  } else if (steps.length > 0) {
    const first = keys && m.keyIndex && plain(obj) ? firstKeys(m, m.keyIndex, obj, keys) : undefined;
    const resourceType = obj.resourceType;
    let digit = 1;
    for (let i = 0; i < steps.length; i++) {
      const name = g.tested[i] as string;
      let p: number;
      if (resourceType === name) return undefined;
      if (first === undefined) {
        p = presenceOf(steps[i] as Step | null, obj, name);
      } else {
        const at = first[i] as number;
        // No key of the name, or (odd) its primitive extension first: as presenceOf.
        p = at < 0 ? NO_VALUES : at & 1 ? -1 : presenceOfValue(obj[((steps[i] as Step).keys[at >> 1] as Step['keys'][number])[0]]);
      }
      if (p < 0) return undefined;
      code += p * digit;
      digit *= 2;
      if (p === NO_VALUES) {
        const guard = g.guardOfTested[i] as number;
        if (guard >= 0) (unread ??= [])[guard] = true;
      }
    }
  }
  const names = g.reads;
  if (names.length === 0) return code;
  let cached: number | undefined;
  if (cache && g.guardNames.length <= 10) {
    let bits = 0;
    for (let i = 0; i < g.guardNames.length; i++) if (unread?.[i]) bits |= 1 << i;
    cached = (g.readsId * 2 + (m.projectable ? 1 : 0)) * 1024 + bits;
    if (cache.has(cached)) {
      const json = cache.get(cached);
      return json === undefined ? undefined : json === '' ? code : `${code}:${json}`;
    }
  }
  const json = readsJson(g, obj, keys, unread, m.projectable);
  if (cache && cached !== undefined) cache.set(cached, json);
  return json === undefined ? undefined : json === '' ? code : `${code}:${json}`;
}

/** The JSON part of readsKey: '' when no key is read. */
function readsJson(
  g: Group,
  obj: Record<string, unknown>,
  keys: readonly string[] | undefined,
  unread: boolean[] | undefined,
  projectable: boolean,
): string | undefined {
  let picked: unknown[] | undefined;
  for (const k of keys ?? Object.keys(obj)) {
    const r = keyReadOf(g, k);
    if (r === null) continue;
    let property = r.property;
    if (!r.unguarded) {
      // Read if by one name whose guard has values; through a property only if all those names are.
      let read = false;
      property = undefined;
      let same = true;
      for (const n of r.names) {
        if (n.guard >= 0 && unread?.[n.guard]) continue;
        if (read && n.through !== property) same = false;
        read = true;
        property = n.through;
      }
      if (!read) continue;
      if (!same || k.charCodeAt(0) === 95 /* _ */) property = undefined;
    }
    if (!projectable) property = undefined;
    (picked ??= []).push(k, property === undefined ? obj[k] : projected(obj[k], property));
  }
  if (!picked) return '';
  return g.identity ? identityJson(picked) : JSON.stringify(picked);
}

/**
 * readsKey's presences for an object whose own keys are the shape's: a name has values
 * when one of its keys is there (presenceOfValue: a key objectValid lets through has a
 * value), unless its primitive extension comes first (-1, as presenceOf). The shape's keys
 * passed objectValid's look (Shape.ok), so an object that has them and is valid has values
 * under each; one that is not is refused whatever this says.
 */
function shapeCode(m: GroupMemo, index: ReadonlyMap<string, number>, shape: Shape): number {
  const known = m.codes.get(shape);
  if (known !== undefined) return known;
  const first = m.first;
  first.fill(-1);
  for (const k of shape.keys) {
    const at = index.get(k);
    if (at === undefined) continue;
    const name = at >> 7;
    const place = at & 127;
    const was = first[name] as number;
    if (was < 0 || place >> 1 < was >> 1 || (place >> 1 === was >> 1 && place & 1)) first[name] = place;
  }
  let code = 0;
  for (let i = 0; i < first.length && code >= 0; i++) {
    const at = first[i] as number;
    if (at >= 0) code = at & 1 ? -1 : code | (1 << i);
  }
  if (m.codes.size >= SHAPES_KEPT * 4) m.codes.clear();
  m.codes.set(shape, code);
  return code;
}

/** Whether `obj` reads only its own keys: a plain object, whose prototype (Object.prototype's keys excluded by keyIndexOf) adds none. */
function plain(obj: object): boolean {
  const proto: unknown = Object.getPrototypeOf(obj);
  return proto === Object.prototype || proto === null;
}

/**
 * For each tested name, the first of its keys (in the order presenceOf tries them) that `obj`
 * has with a value, from one pass over its own keys: that place × 2, + 1 if it is the `_`
 * key (where presenceOf gives up), or -1 for none.
 */
function firstKeys(m: GroupMemo, index: ReadonlyMap<string, number>, obj: Record<string, unknown>, keys: readonly string[]): Int32Array {
  const first = m.first;
  first.fill(-1);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const at = index.get(k);
    if (at === undefined || obj[k] === undefined) continue;
    const name = at >> 7;
    const place = at & 127;
    const known = first[name] as number;
    // The same place: the `_` key (odd) wins, as presenceOf checks it first.
    if (known < 0 || place >> 1 < known >> 1 || (place >> 1 === known >> 1 && place & 1)) first[name] = place;
  }
  return first;
}

/** How a group's JSON names read one key (keyReadOf). */
interface KeyRead {
  /** Each of the group's `reads` the key belongs to (readsName): its guard's index, or -1, and the property it is read through. */
  readonly names: readonly { readonly guard: number; readonly through: string | undefined }[];
  /** Whether one of those names has no guard: the key is read whatever the guards hold. */
  readonly unguarded: boolean;
  /**
   * When `unguarded`, the property all of them are read through (their values are
   * projected to it), if they all have the same one; never for a primitive extension
   * (`_k`), whose values medplum merges.
   */
  readonly property: string | undefined;
}

const KEY_READS_LIMIT = 2_000;

/** How the group's JSON names read key `k` (null: none reads it), worked out once per key. */
function keyReadOf(g: Group, k: string): KeyRead | null {
  const known = g.keyReads.get(k);
  if (known !== undefined) return known;
  const names: { guard: number; through: string | undefined }[] = [];
  for (const n of g.reads) if (readsName([n], k)) names.push({ guard: g.guardedBy.get(n) ?? -1, through: g.through.get(n) });
  let r: KeyRead | null = null;
  if (names.length > 0) {
    const first = names[0]?.through;
    const same = first !== undefined && k.charCodeAt(0) !== 95 /* _ */ && names.every((n) => n.through === first);
    r = { names, unguarded: names.some((n) => n.guard < 0), property: same ? first : undefined };
  }
  // Keys an object may have are a type's; anything else (invalid anyway) is worked out each time.
  if (g.keyReads.size < KEY_READS_LIMIT) g.keyReads.set(k, r);
  return r;
}

/**
 * What SymbolAtom `property` can read of `raw` (a value, or values, of a name read through
 * it): of each object, its resourceType and the keys of that property; anything else as is.
 */
function projected(raw: unknown, property: string): unknown {
  if (!Array.isArray(raw)) return projectedValue(raw, property);
  const out = new Array<unknown>(raw.length);
  for (let i = 0; i < raw.length; i++) if (i in raw) out[i] = projectedValue(raw[i], property);
  return out;
}

function projectedValue(value: unknown, property: string): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const obj = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  if ('resourceType' in obj) out.resourceType = obj.resourceType;
  for (const k of Object.keys(obj)) if (readsName([property], k)) out[k] = obj[k];
  return out;
}

/**
 * The JSON of `value` followed by which of its objects are one and the same, for
 * invariants that compare by identity: two values with equal results have the same shape
 * and the same sharing. Undefined when it cannot tell (a cycle).
 */
function identityJson(value: unknown[]): string | undefined {
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch {
    return undefined;
  }
  // The JSON of an array ends where its brackets close: nothing after it can be mistaken for it.
  return json + sharing(value);
}

/**
 * Which objects under `value` are met more than once, walking its arrays and own keys in
 * order (the order JSON.stringify writes them): `i=j;` for the i-th object met being the
 * j-th. Empty when none is; the walk has no JSON to build, so this is the cheap part.
 */
function sharing(value: unknown): string {
  const seen = new Map<object, number>();
  let shared = '';
  const visit = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return;
    const first = seen.get(v);
    if (first !== undefined) {
      shared += `${seen.size}=${first};`;
      seen.set({}, seen.size);
      return;
    }
    seen.set(v, seen.size);
    if (Array.isArray(v)) for (const x of v) visit(x);
    else for (const k of Object.keys(v)) visit((v as Record<string, unknown>)[k]);
  };
  visit(value);
  return shared;
}

const NO_VALUES = 0;
const HAS_VALUES = 1;

/**
 * Whether medplum's SymbolAtom `name` yields values on a value of the step's type
 * (getTypedPropertyValue with the type's element): what `name.exists()` and `name.empty()`
 * answer from, and whether a function applied to it sees any value. NO_VALUES exactly when
 * none of the name's keys has a value; otherwise HAS_VALUES (presenceOfValue). -1 where
 * medplum would do more than read the keys: the context is a resource of that name
 * (SymbolAtom returns it), the type has no such element (medplum guesses), or a primitive
 * extension (`_name`) is merged in.
 */
function presenceOf(step: Step | null, obj: Record<string, unknown>, name: string): number {
  if (step === null || obj.resourceType === name) return -1;
  for (const [key, , extension] of step.keys) {
    if (obj[extension] !== undefined) return -1;
    const raw = obj[key];
    if (raw !== undefined) return presenceOfValue(raw);
  }
  return NO_VALUES;
}

/**
 * presenceOf for the value found under the name's first key present. Verdicts are
 * remembered only for resources found valid (groupHolds), and in those a value is never
 * empty, nor an array of none or of empty ones (objectValid and keyValid refuse them): a
 * key has to tell apart only values like those, so here one found is one populated.
 */
function presenceOfValue(raw: unknown): number {
  return raw === undefined ? NO_VALUES : HAS_VALUES;
}

/** medplum's isExpressionTrue: the same variables, and an error counts as not holding. */
function evaluate(c: CompiledConstraint, value: TypedValue, walk: Walk): boolean {
  const variables: Record<string, TypedValue> = { '%context': value, '%ucum': UCUM_VALUE };
  let current: object | undefined;
  for (let i = walk.ancestors.length - 1; i >= 0 && !current; i--) if (isResource(walk.ancestors[i])) current = walk.ancestors[i];
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
function readsName(names: readonly string[], k: string): boolean {
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
  /** Each JSON key the element may have, with its values' type and its primitive extension's key, in medplum's order. */
  readonly keys: readonly (readonly [key: string, type: string, extension: string])[];
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
        return [key, t.code === 'Element' || t.code === 'BackboneElement' ? (first as string) : t.code, `_${key}`] as const;
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
  for (const [key, type, extension] of step.keys) {
    const raw = obj[key];
    if (obj[extension] !== undefined) return getTypedPropertyValue(value, name);
    if (raw === undefined) continue;
    if (empty(raw)) return undefined;
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
  return nestedFrom([propertyOf(value, segments[0] as string)], segments, 1);
}

const formats = new Map<string, Format | undefined>();

function formatOf(type: string): Format | undefined {
  if (formats.has(type)) return formats.get(type);
  const format = makeFormat(type);
  formats.set(type, format);
  return format;
}

function makeFormat(type: string): Format | undefined {
  if (!Object.hasOwn(JS_TYPES, type)) return undefined;
  const jsType = JS_TYPES[type];
  if (jsType !== 'string' && jsType !== 'number' && jsType !== 'boolean') return undefined;
  return {
    type,
    jsType,
    regex: Object.hasOwn(REGEXES, type) ? REGEXES[type] : undefined,
    integer: type === 'integer' || type === 'positiveInt' || type === 'unsignedInt',
    positive: type === 'positiveInt',
    nonNegative: type === 'unsignedInt',
  };
}

/** medplum's validatePrimitiveType (no primitive extensions: objectValid refuses `_key`), answering whether it found nothing wrong. */
function formatValid(f: Format, value: unknown): boolean {
  if (typeof value !== f.jsType) return false;
  if (f.jsType === 'string') {
    const s = value as string;
    if (!s.trim() || s.length > 1024 * 1024) return false;
    return !f.regex || f.regex.test(s);
  }
  if (f.jsType === 'number') {
    const n = value as number;
    if (!Number.isFinite(n)) return false;
    if (f.integer && !Number.isInteger(n)) return false;
    if (f.positive && n <= 0) return false;
    if (f.nonNegative && n < 0) return false;
  }
  return true;
}

/** nestedProperty's steps after the first: `segments` from index `from` on, read from what the first step found. */
function nestedFrom(
  first: (TypedValue | TypedValue[] | undefined)[],
  segments: readonly string[],
  from = 0,
): (TypedValue | TypedValue[] | undefined)[] {
  let current = first;
  for (let s = from; s < segments.length; s++) {
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
  const f = formatOf(type);
  if (f) return formatValid(f, value);
  // Not one of fhirTypeToJsType's own types: medplum reports an invalid JSON type, or one it cannot check.
  return false;
}

/**
 * What medplum's checkSliceElement finds `v` to be, by its discriminators: the first slice
 * every discriminator of which some value at its path matches (as the index of the first
 * slice of its name, or -1). Each path is read once, not once per slice (nestedProperty
 * reads, it does not change anything).
 */
function sliceOf(v: TypedValue, slicing: NonNullable<InternalSchemaElement['slicing']>): number {
  const discriminators = slicing.discriminator;
  const found = new Array<(TypedValue | TypedValue[] | undefined)[]>(discriminators.length);
  for (let d = 0; d < discriminators.length; d++) found[d] = nestedProperty(v, (discriminators[d] as SliceDiscriminator).path);
  for (let i = 0; i < slicing.slices.length; i++) {
    const slice = slicing.slices[i] as SliceDefinition;
    let all = true;
    for (let d = 0; d < discriminators.length && all; d++) {
      const discriminator = discriminators[d] as SliceDiscriminator;
      let some = false;
      for (const x of found[d] as (TypedValue | TypedValue[] | undefined)[]) {
        if (discriminantMatches(x, discriminator, slice)) {
          some = true;
          break;
        }
      }
      all = some;
    }
    if (all) return sliceNameIndexOf(slicing)[i] as number;
  }
  return -1;
}

/** How one slice's element decides a discriminator (discriminantMatches), worked out once. */
type SliceTest =
  | { readonly kind: 'never' | 'always' }
  /** A fixed value that is a primitive: { type, value } compared as equalsLikeMedplum would. */
  | { readonly kind: 'fixedPrimitive'; readonly type: unknown; readonly value: unknown }
  | { readonly kind: 'pattern' | 'fixed'; readonly against: unknown }
  | { readonly kind: 'type'; readonly codes: readonly string[] };

interface SlicePlan {
  /** sliceNameIndexOf. */
  readonly nameIndex: Int32Array;
  /** Per discriminator, its path's steps (none for `$this`). */
  readonly paths: readonly (readonly string[])[];
  /** Per slice, per discriminator. */
  readonly tests: readonly (readonly SliceTest[])[];
}

const slicePlans = new WeakMap<object, SlicePlan>();

function slicePlanOf(slicing: NonNullable<InternalSchemaElement['slicing']>): SlicePlan {
  let plan = slicePlans.get(slicing);
  if (plan) return plan;
  const paths = slicing.discriminator.map((d) => (d.path === '$this' ? [] : d.path.split('.')));
  const tests = slicing.slices.map((slice) =>
    slicing.discriminator.map((d): SliceTest => {
      const sliceElement = d.path === '$this' ? slice : slice.elements[d.path];
      switch (d.type) {
        case 'value':
        case 'pattern':
          if (!sliceElement) return { kind: 'never' };
          if (sliceElement.pattern) return { kind: 'pattern', against: sliceElement.pattern };
          if (sliceElement.fixed) {
            const fixed = sliceElement.fixed as unknown as Record<string, unknown>;
            const keys = Object.keys(fixed).sort();
            const primitive = (v: unknown): boolean => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
            return keys.length === 2 && keys[0] === 'type' && keys[1] === 'value' && primitive(fixed.type) && primitive(fixed.value)
              ? { kind: 'fixedPrimitive', type: fixed.type, value: fixed.value }
              : { kind: 'fixed', against: fixed };
          }
          if (sliceElement.binding?.strength === 'required' && sliceElement.binding.valueSet) return { kind: 'always' };
          return { kind: 'never' };
        case 'type':
          return slice.type?.length ? { kind: 'type', codes: slice.type.map((t) => t.code) } : { kind: 'never' };
        default:
          return { kind: 'never' };
      }
    }),
  );
  plan = { nameIndex: sliceNameIndexOf(slicing), paths, tests };
  slicePlans.set(slicing, plan);
  return plan;
}

/** Scratch for sliceIndexOf (not re-entered: nothing it calls reads a slice). */
const candidateTypes: string[] = [];
const candidateValues: unknown[] = [];
const candidateStarts: number[] = [];

/**
 * sliceOf for a value given as its type and JSON, reading each discriminator's path on the
 * JSON itself: the values nestedProperty would give that are single (an array of values,
 * or none, matches no slice: discriminantMatches), compared to the slices as
 * discriminantMatches would, without building a typed value for each. Falls back to sliceOf
 * wherever propertyOf would ask medplum (no element, a primitive extension).
 */
function sliceIndexOf(elementType: string, raw: unknown, slicing: NonNullable<InternalSchemaElement['slicing']>): number {
  const plan = slicePlanOf(slicing);
  const type = elementType === 'Resource' && isResource(raw) ? raw.resourceType : elementType;
  candidateTypes.length = 0;
  candidateValues.length = 0;
  candidateStarts.length = 0;
  for (const path of plan.paths) {
    candidateStarts.push(candidateTypes.length);
    if (path.length === 0) {
      candidateTypes.push(type);
      candidateValues.push(raw);
    } else if (!collectSingles(type, raw, path, 0)) {
      return sliceOf(typed(raw, type), slicing);
    }
  }
  candidateStarts.push(candidateTypes.length);
  for (let i = 0; i < plan.tests.length; i++) {
    const tests = plan.tests[i] as readonly SliceTest[];
    let all = true;
    for (let d = 0; d < tests.length && all; d++) {
      const test = tests[d] as SliceTest;
      let some = false;
      for (let c = candidateStarts[d] as number; c < (candidateStarts[d + 1] as number) && !some; c++) {
        some = candidateMatches(test, candidateTypes[c] as string, candidateValues[c]);
      }
      all = some;
    }
    if (all) return plan.nameIndex[i] as number;
  }
  return -1;
}

/** The slice sliceIndexOf finds a value of `type` to be, by name (for the tests, which hold it to medplum's). */
export function sliceNameOf(type: string, raw: unknown, slicing: NonNullable<InternalSchemaElement['slicing']>): string | undefined {
  const i = sliceIndexOf(type, raw, slicing);
  return i < 0 ? undefined : slicing.slices[i]?.name;
}

function candidateMatches(test: SliceTest, type: string, value: unknown): boolean {
  switch (test.kind) {
    case 'never':
      return false;
    case 'always':
      return true;
    case 'fixedPrimitive':
      // equalsLikeMedplum({ type, value }, fixed): both keys compared, each equal or both empty.
      return (type === test.type || (empty(type) && empty(test.type))) && (value === test.value || (empty(value) && empty(test.value)));
    case 'pattern':
      return includesLikeMedplum({ type, value }, test.against);
    case 'fixed':
      return equalsLikeMedplum({ type, value }, test.against);
    case 'type':
      return test.codes.includes(type);
  }
}

/**
 * The single values nestedProperty gives for `path` from step `i` on (propertyOf step by
 * step, arrays flattened between steps), pushed as candidates. False where propertyOf
 * would ask medplum.
 */
function collectSingles(type: string, raw: unknown, path: readonly string[], i: number): boolean {
  // propertyOf: no value, nothing.
  if (!raw) return true;
  const step = stepOf(type, path[i] as string);
  if (step === null || typeof raw !== 'object') return false;
  const obj = raw as Record<string, unknown>;
  for (const [key, valueType, extension] of step.keys) {
    if (obj[extension] !== undefined) return false;
    const value = obj[key];
    if (value === undefined) continue;
    if (empty(value)) return true;
    const last = i === path.length - 1;
    if (!Array.isArray(value)) {
      const t = valueType === 'Resource' && isResource(value) ? value.resourceType : valueType;
      if (last) {
        candidateTypes.push(t);
        candidateValues.push(value);
        return true;
      }
      return collectSingles(t, value, path, i + 1);
    }
    // An array at the last step is one value of nestedProperty's, which matches no slice.
    if (last) return true;
    for (const item of value as unknown[]) {
      const t = valueType === 'Resource' && isResource(item) ? item.resourceType : valueType;
      if (!collectSingles(t, item, path, i + 1)) return false;
    }
    return true;
  }
  return true;
}

type SliceDiscriminator = NonNullable<InternalSchemaElement['slicing']>['discriminator'][number];
type SliceDefinition = NonNullable<InternalSchemaElement['slicing']>['slices'][number];

/** medplum's matchDiscriminant (typeschema/validation.ts, no `elements`), with equalsLikeMedplum and includesLikeMedplum. */
function discriminantMatches(
  value: TypedValue | TypedValue[] | undefined,
  discriminator: SliceDiscriminator,
  slice: SliceDefinition,
): boolean {
  if (Array.isArray(value)) return false;
  const sliceElement = discriminator.path === '$this' ? slice : slice.elements[discriminator.path];
  switch (discriminator.type) {
    case 'value':
    case 'pattern':
      if (!value || !sliceElement) return false;
      if (sliceElement.pattern) return includesLikeMedplum(value, sliceElement.pattern);
      if (sliceElement.fixed) return equalsLikeMedplum(value, sliceElement.fixed);
      if (sliceElement.binding?.strength === 'required' && sliceElement.binding.valueSet) return true;
      break;
    case 'type':
      if (!value || !slice.type?.length) return false;
      return slice.type.some((t) => t.code === value.type);
  }
  return false;
}

/**
 * medplum's deepEquals (utils.ts), without its Set of keys: every key of either object is
 * compared (a key of both twice, to the same answer), which decides the same.
 */
export function equalsLikeMedplum(a: unknown, b: unknown, path?: string): boolean {
  if (a === b) return true;
  const emptyA = empty(a);
  const emptyB = empty(b);
  if (emptyA || emptyB) return emptyA && emptyB;
  const arrayA = Array.isArray(a);
  const arrayB = Array.isArray(b);
  if (arrayA && arrayB) {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!equalsLikeMedplum(x[i], y[i])) return false;
    return true;
  }
  if (arrayA || arrayB) return false;
  if (a === null || typeof a !== 'object' || b === null || typeof b !== 'object') return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const ignored = path === 'meta' ? META_IGNORED : undefined;
  for (const keys of [Object.keys(x), Object.keys(y)]) {
    for (const key of keys) {
      if (ignored?.has(key)) continue;
      if (!equalsLikeMedplum(x[key], y[key], key)) return false;
    }
  }
  return true;
}

/** The keys medplum's deepEquals leaves out of `meta`. */
const META_IGNORED = new Set(['versionId', 'lastUpdated', 'author']);

/** medplum's deepIncludes (utils.ts). */
export function includesLikeMedplum(value: unknown, pattern: unknown): boolean {
  if (empty(value)) return true;
  if (empty(pattern)) return false;
  const arrayV = Array.isArray(value);
  const arrayP = Array.isArray(pattern);
  if (arrayV && arrayP) {
    for (const p of pattern as unknown[]) {
      let some = false;
      for (const v of value as unknown[]) {
        if (includesLikeMedplum(v, p)) {
          some = true;
          break;
        }
      }
      if (!some) return false;
    }
    return true;
  }
  if (arrayV || arrayP) return false;
  const objectV = value !== null && typeof value === 'object';
  const objectP = pattern !== null && typeof pattern === 'object';
  if (objectV && objectP) {
    const v = value as Record<string, unknown>;
    const p = pattern as Record<string, unknown>;
    for (const key of Object.keys(p)) if (!(key in v) || !includesLikeMedplum(v[key], p[key])) return false;
    return true;
  }
  if (objectV || objectP) return false;
  return value === pattern;
}

/**
 * For each slice, the first slice of the same name: medplum counts slices by name
 * (`sliceCounts[sliceName]`), so two slices of one name share a count.
 */
const sliceNameIndexes = new WeakMap<object, Int32Array>();

function sliceNameIndexOf(slicing: NonNullable<InternalSchemaElement['slicing']>): Int32Array {
  let index = sliceNameIndexes.get(slicing);
  if (!index) {
    const names = slicing.slices.map((s) => s.name);
    index = Int32Array.from(names, (name) => names.indexOf(name));
    sliceNameIndexes.set(slicing, index);
  }
  return index;
}

function slicesValid(slicing: NonNullable<InternalSchemaElement['slicing']>, counts: Int32Array): boolean {
  const nameIndex = sliceNameIndexOf(slicing);
  for (let i = 0; i < slicing.slices.length; i++) {
    const slice = slicing.slices[i] as SliceDefinition;
    const n = counts[nameIndex[i] as number] as number;
    if (n < slice.min || n > slice.max) return false;
  }
  return true;
}

/**
 * medplum's visitProperty for the values under one of an object's own keys (not null or
 * undefined: objectValid has checked), answering whether it found nothing wrong. An empty
 * value (medplum's "Invalid empty value") fails its own check below: a primitive's type
 * or format, a complex value's keys.
 */
function keyValid(raw: unknown, entry: Entry, walk: Walk): boolean {
  const element = entry.element;
  let list: unknown[] | undefined;
  if (Array.isArray(raw)) {
    // medplum reads an empty array as absent, which then is or is not an additional property: it decides.
    if (!element.isArray || raw.length === 0) return false;
    list = raw;
  } else if (element.isArray) {
    return false;
  }
  const n = list ? list.length : 1;
  if (n < element.min || n > element.max) return false;
  if (element.pattern || element.fixed) {
    const typeAndValue = list ? list.map((x) => typed(x, entry.type)) : typed(raw, entry.type);
    if (element.pattern && !includesLikeMedplum(typeAndValue, element.pattern)) return false;
    if (element.fixed && !equalsLikeMedplum(typeAndValue, element.fixed)) return false;
  }
  const g = entry.constraints;
  const slicing = element.slicing;
  const counts = slicing ? new Int32Array(slicing.slices.length) : undefined;
  for (let i = 0; i < n; i++) {
    const x = list ? list[i] : raw;
    if (x === null || x === undefined) return false;
    if (entry.resource) {
      if (!valueValid(typed(x, entry.type), g, walk)) return false;
    } else if (entry.primitive) {
      if (!entry.format || !formatValid(entry.format, x)) return false;
      if (!g.empty && !groupHolds(g, { type: entry.type, value: x }, walk)) return false;
    } else {
      if (typeof x !== 'object' || Array.isArray(x)) return false;
      if (!complexValid(x as Record<string, unknown>, entry.type, (entry.compiled ??= compile(entry.type)), g, walk)) return false;
    }
    if (slicing && counts) {
      const slice = sliceIndexOf(entry.type, x, slicing);
      if (slice >= 0) counts[slice] = (counts[slice] as number) + 1;
    }
  }
  return !slicing || !counts || slicesValid(slicing, counts);
}

/** One value of an element whose type is only known per value (`Resource`). */
function valueValid(v: TypedValue, g: Group, walk: Walk): boolean {
  if (v.type in JS_TYPES || v.type === 'undefined') return groupHolds(g, v, walk) && primitiveValid(v.type, v.value);
  const x = v.value;
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
  return complexValid(x as Record<string, unknown>, v.type, compile(v.type), g, walk);
}

/** medplum's visitProperty for a profile's nested path: its values were checked as their parents' content. */
function nestedValid(values: TypedValue | TypedValue[] | undefined, element: InternalSchemaElement, walk: Walk): boolean {
  if (values === undefined || (!Array.isArray(values) && values.value === undefined)) return element.min === 0;
  if (Array.isArray(values) ? values.length === 0 : empty(values.value)) return false;
  if (element.isArray ? !Array.isArray(values) : Array.isArray(values)) return false;
  const list = arrayify(values) as TypedValue[];
  if (list.length < element.min || list.length > element.max) return false;
  if (element.pattern || element.fixed) {
    const typeAndValue = Array.isArray(values)
      ? values.map((v) => ({ type: v.type, value: v.value }))
      : { type: values.type, value: values.value };
    if (element.pattern && !includesLikeMedplum(typeAndValue, element.pattern)) return false;
    if (element.fixed && !equalsLikeMedplum(typeAndValue, element.fixed)) return false;
  }
  const constraints = constraintsGroupOf(element);
  const slicing = element.slicing;
  const counts = slicing ? new Int32Array(slicing.slices.length) : undefined;
  for (const v of list) {
    if (v.value === null || v.value === undefined) return false;
    if (v.type in JS_TYPES || v.type === 'undefined') {
      if (!groupHolds(constraints, v, walk) || !primitiveValid(v.type, v.value)) return false;
    } else if (empty(v.value)) {
      return false;
    } else if (!groupHolds(constraints, v, walk)) {
      return false;
    }
    if (slicing && counts) {
      const slice = sliceIndexOf(v.type, v.value, slicing);
      if (slice >= 0) counts[slice] = (counts[slice] as number) + 1;
    }
  }
  return !slicing || !counts || slicesValid(slicing, counts);
}

/**
 * A complex value of an element: the element's invariants on it, then its own content.
 * Empty (medplum's isEmpty: no keys, no positive `length`) is refused.
 */
function complexValid(obj: Record<string, unknown>, type: string, compiled: Compiled, g: Group, walk: Walk): boolean {
  const keys = Object.keys(obj);
  if (keys.length === 0 && !('length' in obj && (obj.length as number) > 0)) return false;
  if (walk.reuse) {
    const verified = walk.verified.get(obj);
    if (verified && verified.g === g && verified.type === type) return true;
  }
  const shape = shapeOf(compiled, keys);
  if (!shape.ok) return false;
  const outer = walk.usedContext;
  walk.usedContext = false;
  const value: TypedValue | undefined = g.empty && compiled.dotted.length === 0 ? undefined : { type, value: obj };
  let ok = g.empty || groupHolds(g, value as TypedValue, walk, keys, undefined, shape);
  if (ok) {
    walk.ancestors.push(obj);
    ok = objectValid(obj, value, keys, shape, compiled, walk);
    walk.ancestors.pop();
  }
  if (ok && walk.record && !walk.usedContext) walk.verified.set(obj, { g, type });
  walk.usedContext = walk.usedContext || outer;
  return ok;
}

/** The content of `obj` (whose own keys are `keys`) as its type defines it; `value` is it typed, needed for a profile's nested paths. */
function objectValid(
  obj: Record<string, unknown>,
  value: TypedValue | undefined,
  keys: readonly string[],
  shape: Shape,
  compiled: Compiled,
  walk: Walk,
): boolean {
  const entries = shape.entries;
  for (let i = 0; i < keys.length; i++) {
    const entry = entries[i];
    if (entry === undefined) continue;
    const raw = obj[keys[i] as string];
    if (raw === null || raw === undefined) return false;
    if (!keyValid(raw, entry, walk)) return false;
  }
  return compiled.dotted.length === 0 || (value !== undefined && dottedValid(value, compiled, walk));
}

/** objectValid for the resource itself, whose keys a later type may skip (rootKeyValid). */
function rootValid(resource: Resource, root: TypedValue, keys: readonly string[], shape: Shape, compiled: Compiled, walk: Walk): boolean {
  const obj = resource as unknown as Record<string, unknown>;
  const entries = shape.entries;
  for (let i = 0; i < keys.length; i++) {
    const entry = entries[i];
    if (entry === undefined) continue;
    const key = keys[i] as string;
    const raw = obj[key];
    if (raw === null || raw === undefined) return false;
    if (!rootKeyValid(i, key, raw, entry, walk)) return false;
  }
  return compiled.dotted.length === 0 || dottedValid(root, compiled, walk);
}

/** A profile's nested paths on `value` (Compiled.dotted). */
function dottedValid(value: TypedValue, compiled: Compiled, walk: Walk): boolean {
  for (const d of compiled.dotted) {
    const first = [propertyOf(value, d.first)];
    for (const { rest, element } of d.paths) {
      for (const values of nestedFrom(first, rest)) {
        // medplum visits the nested values again with their own types; they were checked above.
        if (!nestedValid(values, element, walk)) return false;
      }
    }
  }
  return true;
}

/** keyValid for a key of the resource itself, which a later type may skip or an earlier one had checked the same (Walk.cleanKeys). */
function rootKeyValid(i: number, key: string, raw: unknown, entry: Entry, walk: Walk): boolean {
  if (walk.reuse && walk.cleanKeys[i]) {
    const before = walk.first?.byKey.get(key);
    if (before && sameChecks(entry, before)) return true;
  }
  if (!walk.record) return keyValid(raw, entry, walk);
  const outer = walk.usedContext;
  walk.usedContext = false;
  const ok = keyValid(raw, entry, walk);
  if (ok && !walk.usedContext) walk.cleanKeys[i] = 1;
  walk.usedContext = walk.usedContext || outer;
  return ok;
}

/**
 * Whether keyValid checks the same of a value under either entry: everything it reads of
 * the entry and its element (cardinality, fixed, pattern, slices, invariants, type).
 */
function sameChecks(a: Entry, b: Entry): boolean {
  if (a === b) return true;
  const x = a.element;
  const y = b.element;
  return (
    a.type === b.type &&
    a.resource === b.resource &&
    a.primitive === b.primitive &&
    a.format === b.format &&
    a.constraints === b.constraints &&
    !x.isArray === !y.isArray &&
    x.min === y.min &&
    x.max === y.max &&
    !x.pattern &&
    !y.pattern &&
    !x.fixed &&
    !y.fixed &&
    !x.slicing &&
    !y.slicing
  );
}

const NOTHING_VERIFIED: Walk['verified'] = new Map();
const NO_CLEAN_KEYS = new Uint8Array(0);

/**
 * True when `resource` certainly passes medplum's validation against each of `types` (its
 * resource type, profile URLs loaded as data types). False means "ask medplum".
 */
export function certainlyValid(resource: Resource, types: readonly string[]): boolean {
  if (!resource || typeof resource !== 'object' || Array.isArray(resource) || !resource.resourceType) return false;
  const keys = Object.keys(resource);
  // What one type's walk leaves for the next: only with a profile.
  const several = types.length > 1;
  const verified: Walk['verified'] = several ? new Map() : NOTHING_VERIFIED;
  const cleanKeys = several ? new Uint8Array(keys.length) : NO_CLEAN_KEYS;
  const rootJson = several ? new Map<number, string | undefined>() : undefined;
  const pending: unknown[] = [];
  let first: Compiled | undefined;
  for (let t = 0; t < types.length; t++) {
    const type = types[t] as string;
    let compiled: Compiled;
    try {
      compiled = compile(type);
    } catch {
      return false;
    }
    const root: TypedValue = { type, value: resource };
    const walk: Walk = {
      root,
      ancestors: [resource],
      usedContext: false,
      verified,
      reuse: t > 0,
      record: t < types.length - 1,
      cleanKeys,
      rootJson,
      first,
      pending,
    };
    const shape = shapeOf(compiled, keys);
    if (
      !shape.ok ||
      !groupHolds(compiled.rootConstraints, root, walk, keys, rootJson, shape) ||
      !rootValid(resource, root, keys, shape, compiled, walk)
    ) {
      return false;
    }
    first ??= compiled;
  }
  for (let i = 0; i < pending.length; i += 2) remember(pending[i] as Set<unknown>, pending[i + 1]);
  return true;
}
