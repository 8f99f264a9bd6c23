import { ALL_UNITS, QUEUE_NAMES } from '@kap/queue';
import type { WorkerDeps } from '../deps';
import { processorsByQueue, UNIT_WORKERS, type UnitWorker } from './registry';

/** Declared units that `workers` has no processor for. */
function unitsWithoutProcessor(workers: readonly UnitWorker[] = UNIT_WORKERS): string[] {
  const served = new Set(workers.map((w) => w.unit.topic));
  return ALL_UNITS.filter((u) => !served.has(u.topic)).map((u) => u.topic);
}

// The processors are only made here, never run: what is checked is the wiring, not the work.
const deps = { config: { SYNC_CONCURRENCY: 1 } } as unknown as WorkerDeps;

describe('the worker registry', () => {
  it('has a processor for every declared unit, and one only', () => {
    expect(unitsWithoutProcessor()).toEqual([]);
    expect(new Set(UNIT_WORKERS.map((w) => w.unit.topic)).size).toBe(UNIT_WORKERS.length);
  });

  it('finds that a declared unit without a processor is missing', () => {
    const withoutFirst = UNIT_WORKERS.slice(1);
    expect(unitsWithoutProcessor(withoutFirst)).toEqual([UNIT_WORKERS[0]?.unit.topic]);
  });

  it('gives each job name on a queue to exactly one unit', () => {
    for (const queue of Object.values(QUEUE_NAMES)) {
      const names = ALL_UNITS.filter((u) => u.queue === queue).flatMap((u) => u.jobNames);
      expect({ queue, names: new Set(names).size }).toEqual({ queue, names: names.length });
    }
  });

  it('starts one worker per queue that has units, knowing every job name of its units', () => {
    const byQueue = processorsByQueue(deps);
    expect([...byQueue.keys()].sort()).toEqual([...new Set(ALL_UNITS.map((u) => u.queue))].sort());
    for (const unit of ALL_UNITS) for (const name of unit.jobNames) expect(byQueue.get(unit.queue)?.has(name)).toBe(true);
  });
});
