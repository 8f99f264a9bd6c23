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
 * what each reads from its context: a name the expression only tests with `exists()` or
 * `empty()` by whether it is there (the value under it does not matter, so a Quantity's
 * number or a nested item's answers never re-key it), any other name by its JSON.
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
  DotAtom,
  FunctionAtom,
  SymbolAtom,
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
  /** A JSON key → how its values are checked (choice-type keys included). */
  readonly byKey: ReadonlyMap<string, Entry>;
  /** For each element with min > 0 (not dotted), the JSON keys any of which it may have. */
  readonly required: readonly (readonly string[])[];
  /** Elements a profile sets on nested paths (`code.coding`), checked as medplum does. */
  readonly dotted: readonly string[];
  readonly rootConstraints: Group;
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
  readonly resources: Resource[];
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
  const dotted: string[] = [];
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
      dotted.push(name);
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
  const compiled: Compiled = { schema, byKey, required, dotted, rootConstraints: group(constraintsOf(schema.constraints), true) };
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
}

const NO_READINGS: Readings = { presence: new Set(), guards: new Map() };

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
 *   the name is not read at all.
 * A name after %resource or %rootResource is never a presence name. Nothing is found when
 * the parsed identifiers are not all among `reads`: the two readings would disagree.
 */
function readingsOf(root: ReturnType<typeof parseFhirPath>, reads: readonly string[] | undefined): Readings {
  if (!reads) return NO_READINGS;
  const tested = new Set<string>();
  const other = new Set<string>();
  const guardOf = new Map<string, string | undefined>();
  const seen = (name: string, test: boolean, guard: string | undefined): void => {
    (test ? tested : other).add(name);
    guardOf.set(name, guardOf.has(name) && guardOf.get(name) !== guard ? undefined : guard);
  };
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
  const visit = (atom: Atom, parent: Atom | undefined, side: string | undefined, onContext: boolean, guard: string | undefined): void => {
    if (atom instanceof SymbolAtom) {
      if (side === 'right' && parent instanceof DotAtom) {
        const left = parent.left;
        if (left instanceof SymbolAtom && (left.name === '%resource' || left.name === '%rootResource')) seen(atom.name, false, guard);
        return;
      }
      const test =
        side === 'left' &&
        parent instanceof DotAtom &&
        parent.right instanceof FunctionAtom &&
        (parent.right.name === 'exists' || parent.right.name === 'empty') &&
        parent.right.args.length === 0;
      seen(atom.name, test, guard);
      return;
    }
    if (atom instanceof DotAtom) {
      const right = atom.right;
      const start =
        onContext && right instanceof FunctionAtom && PER_VALUE_FUNCTIONS.has(right.name) && right.args.length > 0
          ? pathStart(atom.left)
          : undefined;
      visit(atom.left, atom, 'left', onContext, guard);
      if (start !== undefined && right instanceof FunctionAtom) {
        for (const arg of right.args) visit(arg, right, undefined, false, guard ?? start);
      } else {
        visit(right, atom, 'right', false, guard);
      }
      return;
    }
    if (atom instanceof FunctionAtom) {
      for (const arg of atom.args) visit(arg, atom, undefined, false, guard);
      return;
    }
    for (const [field, child] of Object.entries(atom)) {
      const children: unknown[] = Array.isArray(child) ? child : [child];
      for (const c of children) {
        if (c !== null && typeof c === 'object' && typeof (c as Atom).eval === 'function') {
          visit(c as Atom, atom, field, onContext, guard);
        }
      }
    }
  };
  visit(root.child, undefined, undefined, true, undefined);
  const known = new Set(reads);
  for (const name of tested) if (!name.startsWith('%') && !known.has(name)) return NO_READINGS;
  for (const name of other) if (!name.startsWith('%') && !known.has(name) && !OPERATORS.has(name)) return NO_READINGS;
  const presence = new Set<string>();
  for (const name of tested) if (!other.has(name) && !variableLike(name)) presence.add(name);
  const guards = new Map<string, string>();
  for (const [name, guard] of guardOf) if (guard !== undefined && guard !== name && known.has(name)) guards.set(name, guard);
  return { presence, guards };
}

/**
 * The invariants of one element (or of a type at its root), remembered together: those
 * whose reads are known hold for every value that reads the same under those names.
 */
interface Group {
  readonly id: number;
  readonly empty: boolean;
  /** Names read only by whether they are there (in every invariant of `byReads` that reads them). */
  readonly presence: readonly string[];
  /** The other names read, by their JSON. */
  readonly reads: readonly string[];
  /** Names whose emptiness decides whether some of `reads` are read at all (Readings.guards). */
  readonly guardNames: readonly string[];
  /** Of `reads`, each one read only under a guard: its index in `guardNames`. */
  readonly guardedBy: ReadonlyMap<string, number>;
  /** `presence` then `guardNames`. */
  readonly tested: readonly string[];
  /** Whether an invariant of `byReads` compares by identity (CompiledConstraint.identity). */
  readonly identity: boolean;
  /** What it remembers per type of value (see readsKey). */
  readonly memo: Map<string, GroupMemo>;
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
  for (const c of constraints) {
    const r = atRoot ? c.readsAtRoot : c.contextFree ? c.reads : undefined;
    if (r) {
      byReads.push(c);
      const readings = atRoot ? c.readingsAtRoot : c.readings;
      for (const n of r) {
        (readings.presence.has(n) ? tested : reads).add(n);
        const guard = readings.guards.get(n);
        guards.set(n, guards.has(n) && guards.get(n) !== guard ? undefined : guard);
      }
    } else {
      others.push(c);
    }
  }
  // A name some invariant reads by value is keyed by value for all of them; one is guarded only if by the same name in all.
  const presence = [...tested].filter((n) => !reads.has(n));
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
    tested: [...presence, ...guardNames],
    identity: byReads.some((c) => c.identity),
    memo: new Map(),
    byReads,
    others,
    atRoot,
  };
}

/** A group's memory for values of one type. */
interface GroupMemo {
  /** For each of the group's `tested` names, how this type reads it (stepOf). */
  readonly steps: readonly (Step | null)[];
  /** The readsKey of every value the group's invariants held for. */
  readonly held: Set<number | string>;
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
  let m = g.memo.get(type);
  if (!m) {
    m = { steps: g.tested.map((name) => stepOf(type, name)), held: new Set() };
    memos.push(m.held);
    g.memo.set(type, m);
  }
  return m;
}

function groupHolds(g: Group, value: TypedValue, walk: Walk): boolean {
  if (g.empty) return true;
  if (g.byReads.length > 0) {
    const v = value.value;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
    const m = memoOf(g, value.type);
    const key = readsKey(g, m, v as Record<string, unknown>);
    if (key === undefined || !m.held.has(key)) {
      for (const c of g.byReads) if (!evaluate(c, value, walk)) return false;
      if (key !== undefined) remember(m.held, key);
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
    remember(set, key);
  }
  return true;
}

/** Up to this many tested names, their characters make one exact number (4 ** 26 < 2 ** 53). */
const MAX_NUMBERED = 26;

/**
 * What the group's invariants read from `obj` (a value of the memo's type): for each
 * presence name, then each guard name, its presenceOf (one of 4, as the digits of a
 * number), then the JSON of the keys under the other names, but for those whose guard has
 * no values (`n`: they are not read). A number when there is no such JSON. Undefined when
 * a reading is not certain here (the invariants are then evaluated unmemoized).
 */
function readsKey(g: Group, m: GroupMemo, obj: Record<string, unknown>): number | string | undefined {
  const steps = m.steps;
  if (steps.length > MAX_NUMBERED) return undefined;
  const presenceCount = g.presence.length;
  let code = 0;
  let digit = 1;
  let unread: boolean[] | undefined;
  for (let i = 0; i < steps.length; i++) {
    const p = presenceOf(steps[i] as Step | null, obj, g.tested[i] as string);
    if (p < 0) return undefined;
    code += p * digit;
    digit *= 4;
    if (p === NO_VALUES && i >= presenceCount) (unread ??= [])[i - presenceCount] = true;
  }
  let names = g.reads;
  if (names.length === 0) return code;
  if (unread) names = names.filter((n) => !unread[g.guardedBy.get(n) ?? -1]);
  let picked: unknown[] | undefined;
  for (const k of Object.keys(obj)) if (readsName(names, k)) (picked ??= []).push(k, obj[k]);
  if (!picked) return code;
  const json = g.identity ? identityJson(picked) : JSON.stringify(picked);
  return json === undefined ? undefined : `${code}:${json}`;
}

/**
 * The JSON of `value` followed by which of its objects are one and the same (visit `i` is
 * visit `j`), for invariants that compare by identity; two values with equal results have
 * the same shape and the same sharing. Undefined when it cannot tell (a cycle).
 */
function identityJson(value: unknown): string | undefined {
  const seen = new Map<object, number>();
  let visits = 0;
  let shared = '';
  let json: string;
  try {
    json = JSON.stringify(value, (_key, v: unknown) => {
      if (v !== null && typeof v === 'object') {
        const first = seen.get(v);
        if (first === undefined) seen.set(v, visits);
        else shared += `${visits}=${first};`;
        visits++;
      }
      return v;
    });
  } catch {
    return undefined;
  }
  // The JSON of an array ends where its brackets close: nothing after it can be mistaken for it.
  return json + shared;
}

const NO_VALUES = 0;
const ONLY_EMPTY = 1;
const ONLY_POPULATED = 2;
const BOTH = 3;

/**
 * What medplum's SymbolAtom `name` yields on a value of the step's type (getTypedPropertyValue
 * with the type's element, undefined values dropped): no values, only empty ones, only
 * populated ones, or both. That is what `name.exists()` and `name.empty()` answer from
 * (functions.ts: every value populated / none populated), and whether a function applied
 * to it sees any value. -1 where medplum would do more than read the keys: the context is
 * a resource of that name (SymbolAtom returns it), the type has no such element (medplum
 * guesses), or a primitive extension (`_name`) is merged in.
 */
function presenceOf(step: Step | null, obj: Record<string, unknown>, name: string): number {
  if (step === null || obj.resourceType === name) return -1;
  for (const [key, , extension] of step.keys) {
    if (obj[extension] !== undefined) return -1;
    const raw = obj[key];
    if (raw === undefined) continue;
    // getTypedPropertyValueWithSchema reads an empty value as none.
    if (isEmpty(raw)) return NO_VALUES;
    if (!Array.isArray(raw)) return ONLY_POPULATED;
    let defined = 0;
    let populated = 0;
    for (const item of raw as unknown[]) {
      if (item === undefined) continue;
      defined++;
      if (!isEmpty(item)) populated++;
    }
    return defined === 0 ? NO_VALUES : populated === 0 ? ONLY_EMPTY : populated === defined ? ONLY_POPULATED : BOTH;
  }
  return NO_VALUES;
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

function formatOf(type: string): Format | undefined {
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

function primitiveValid(type: string, value: unknown): boolean {
  const f = formatOf(type);
  if (f) return formatValid(f, value);
  // Not one of fhirTypeToJsType's own types: medplum reports an invalid JSON type, or one it cannot check.
  return false;
}

/** What medplum's checkSliceElement finds `v` to be, by its discriminators. */
function sliceOf(v: TypedValue, slicing: NonNullable<InternalSchemaElement['slicing']>): string | undefined {
  return slicing.slices.find((slice) =>
    slicing.discriminator.every((d) => arrayify(nestedProperty(v, d.path))?.some((x) => matchDiscriminant(x, d, slice))),
  )?.name;
}

function slicesValid(slicing: NonNullable<InternalSchemaElement['slicing']>, counts: ReadonlyMap<string, number>): boolean {
  for (const slice of slicing.slices) {
    const n = counts.get(slice.name) ?? 0;
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
    if (element.pattern && !deepIncludes(typeAndValue, element.pattern)) return false;
    if (element.fixed && !deepEquals(typeAndValue, element.fixed)) return false;
  }
  const g = entry.constraints;
  const slicing = element.slicing;
  const counts = slicing ? new Map(slicing.slices.map((s) => [s.name, 0])) : undefined;
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
      const name = sliceOf(typed(x, entry.type), slicing);
      if (name !== undefined) counts.set(name, (counts.get(name) ?? 0) + 1);
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
  const constraints = constraintsGroupOf(element);
  const slicing = element.slicing;
  const counts = slicing ? new Map(slicing.slices.map((s) => [s.name, 0])) : undefined;
  for (const v of list) {
    if (v.value === null || v.value === undefined) return false;
    if (v.type in JS_TYPES || v.type === 'undefined') {
      if (!groupHolds(constraints, v, walk) || !primitiveValid(v.type, v.value)) return false;
    } else if (isEmpty(v.value)) {
      return false;
    } else if (!groupHolds(constraints, v, walk)) {
      return false;
    }
    if (slicing && counts) {
      const name = sliceOf(v, slicing);
      if (name !== undefined) counts.set(name, (counts.get(name) ?? 0) + 1);
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
  const outer = walk.usedContext;
  walk.usedContext = false;
  const value: TypedValue = { type, value: obj };
  let ok = g.empty || groupHolds(g, value, walk);
  if (ok) {
    const isRes = 'resourceType' in obj;
    if (isRes) walk.resources.push(obj as unknown as Resource);
    ok = objectValid(value, keys, compiled, walk);
    if (isRes) walk.resources.pop();
  }
  if (ok && walk.record && !walk.usedContext) walk.verified.set(obj, { g, type });
  walk.usedContext = walk.usedContext || outer;
  return ok;
}

/** The content of `value` (an object, whose own keys are `keys`) as its type defines it. */
function objectValid(value: TypedValue, keys: readonly string[], compiled: Compiled, walk: Walk): boolean {
  const obj = value.value as Record<string, unknown>;
  let choicesSeen: string[] | undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (key === 'resourceType') continue;
    const entry = compiled.byKey.get(key);
    // Unknown keys, primitive extensions (`_key`), elements of several types: medplum decides.
    if (entry === undefined) return false;
    if (entry.choice) {
      // Two variants of one choice type: medplum reads only the first, and warns.
      if (choicesSeen?.includes(entry.name)) return false;
      (choicesSeen ??= []).push(entry.name);
    }
    const raw = obj[key];
    if (raw === null || raw === undefined) return false;
    if (!keyValid(raw, entry, walk)) return false;
  }
  for (const required of compiled.required) if (!required.some((k) => obj[k] !== undefined)) return false;
  const dotted = compiled.dotted;
  if (dotted.length > 0) {
    const elements = compiled.schema.elements;
    for (const name of dotted) {
      const element = elements[name] as InternalSchemaElement;
      for (const values of nestedProperty(value, name)) {
        // medplum visits the nested values again with their own types; they were checked above.
        if (!nestedValid(values, element, walk)) return false;
      }
    }
  }
  return true;
}

/**
 * True when `resource` certainly passes medplum's validation against each of `types` (its
 * resource type, profile URLs loaded as data types). False means "ask medplum".
 */
export function certainlyValid(resource: Resource, types: readonly string[]): boolean {
  if (!resource || typeof resource !== 'object' || Array.isArray(resource) || !resource.resourceType) return false;
  const keys = Object.keys(resource);
  const verified: Walk['verified'] = new Map();
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
      resources: [resource],
      usedContext: false,
      verified,
      reuse: t > 0,
      record: t < types.length - 1,
    };
    if (!groupHolds(compiled.rootConstraints, root, walk) || !objectValid(root, keys, compiled, walk)) return false;
  }
  return true;
}
