/**
 * A FIFO async mutex. The sandbox runs every FHIR interaction under one, because conditional
 * create is a search followed by a write: two concurrent identical requests would otherwise
 * both see zero matches and both create.
 * @see http://hl7.org/fhir/R4/http.html#ccreate
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  /** Runs `task` once every previously queued task has settled. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.then(
      () => undefined,
      () => undefined
    );
    return result;
  }
}
