/**
 * FIFO async locks by key. The sandbox locks only the identities a request may race on
 * (see lock-keys.ts): a conditional create is a search followed by a write, so two identical
 * ones running together would both see no match and both create. Requests with disjoint keys
 * (two workers writing different patients) run side by side; reads take no lock.
 * @see http://hl7.org/fhir/R4/http.html#ccreate
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  /**
   * Runs `task` once it holds every key. Keys are taken in sorted order, so two requests
   * wanting overlapping sets cannot each hold what the other waits for.
   */
  async run<T>(keys: Iterable<string>, task: () => Promise<T>): Promise<T> {
    const releases: (() => void)[] = [];
    try {
      for (const key of [...new Set(keys)].sort()) {
        releases.push(await this.acquire(key));
      }
      return await task();
    } finally {
      for (const release of releases) release();
    }
  }

  /** Keys currently held or waited for; empty when idle (tests check nothing leaks). */
  get size(): number {
    return this.tails.size;
  }

  private async acquire(key: string): Promise<() => void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    return () => {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }
}
