/**
 * The order in which one patient's resources are written, and how they are grouped into
 * requests, pure. A resource is written before anything that references it, so every
 * request is self-contained: a reference points either into the same transaction
 * (`urn:uuid:`) or at an id the EHR gave in an earlier, already recorded request.
 * @see http://hl7.org/fhir/R4/http.html#trules
 */

export interface OrderItem {
  /** `Type/id` of the local resource. */
  readonly key: string;
  /**
   * Local references this resource holds to others in the same run that the EHR does
   * not have yet (those it has are rewritten to their EHR ids and constrain nothing).
   */
  readonly dependsOn: readonly string[];
  /** Written in a request of its own (an unconditional create whose id must be recorded first). */
  readonly alone?: boolean;
}

export interface WriteGroup {
  readonly keys: readonly string[];
  /**
   * Resources written first without the references listed, because they sit on a reference
   * cycle that these requests cannot hold at once; they are written again, whole, once
   * the others exist.
   */
  readonly stubs: ReadonlyMap<string, ReadonlySet<string>>;
}

export interface GroupingOptions {
  /**
   * `transaction`: consecutive resources share a Bundle, references within it by `urn:uuid:`.
   * `batch`: a Bundle never holds a resource and one it references (R4 batch entries must
   * not depend on each other). `single`: one resource per request.
   */
  readonly mode: 'transaction' | 'batch' | 'single';
  /** Most resources per request (ignored in `single`). */
  readonly maxEntries: number;
}

/** Groups `items` (in their given order where dependencies allow) into requests. */
export function groupWrites(items: readonly OrderItem[], options: GroupingOptions): WriteGroup[] {
  const limit = options.mode === 'single' ? 1 : Math.max(1, options.maxEntries);
  const present = new Set(items.map((i) => i.key));
  const edges = new Map(items.map((i) => [i.key, i.dependsOn.filter((d) => d !== i.key && present.has(d))]));
  const stubs = new Map<string, Set<string>>();
  // Components in dependency order; one that cannot share a request is broken open.
  const ordered: string[][] = [];
  const place = (keys: readonly string[]): void => {
    for (const component of stronglyConnected(keys, edges)) {
      if (component.length === 1 || (options.mode === 'transaction' && component.length <= limit)) {
        ordered.push(component);
        continue;
      }
      // Write the first member without its references into the cycle, then the rest in order.
      const [first, ...rest] = component as [string, ...string[]];
      const inside = new Set(component);
      const dropped = new Set((edges.get(first) ?? []).filter((d) => inside.has(d)));
      stubs.set(first, dropped);
      edges.set(
        first,
        (edges.get(first) ?? []).filter((d) => !dropped.has(d)),
      );
      place([first, ...rest]);
    }
  };
  place(items.map((i) => i.key));

  const groups: string[][] = [];
  let current: string[] = [];
  const inCurrent = (key: string): boolean => current.includes(key);
  const alone = new Set(items.filter((i) => i.alone).map((i) => i.key));
  for (const component of ordered) {
    if (component.length === 1 && alone.has(component[0] as string)) {
      if (current.length > 0) groups.push(current);
      groups.push(component);
      current = [];
      continue;
    }
    const clashes = options.mode === 'batch' && component.some((k) => (edges.get(k) ?? []).some(inCurrent));
    if (current.length > 0 && (current.length + component.length > limit || clashes)) {
      groups.push(current);
      current = [];
    }
    current.push(...component);
  }
  if (current.length > 0) groups.push(current);
  return groups.map((keys) => ({
    keys,
    stubs: new Map(keys.filter((k) => stubs.has(k)).map((k) => [k, stubs.get(k) as Set<string>])),
  }));
}

/**
 * Tarjan's strongly connected components of the subgraph on `keys`, dependencies first,
 * ties kept in the order of `keys` so the plan is deterministic.
 */
function stronglyConnected(keys: readonly string[], edges: ReadonlyMap<string, readonly string[]>): string[][] {
  const within = new Set(keys);
  const position = new Map(keys.map((k, i) => [k, i]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!within.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      out.push(component.sort((a, b) => (position.get(a) as number) - (position.get(b) as number)));
    }
  };
  for (const k of keys) if (!index.has(k)) visit(k);
  // Tarjan emits a component only after everything it reaches: already dependencies first.
  return out;
}
