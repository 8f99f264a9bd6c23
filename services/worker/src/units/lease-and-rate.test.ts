import { EhrError } from '@kap/ehr-client';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { rethrowEhrFailure, retryLater } from './lease-and-rate';

// Pure policy: a job that records where it was moved. The lease itself is PostgreSQL's (store/leases.test.ts).
function recordingJob(): { job: Job; delayedUntil: number[] } {
  const delayedUntil: number[] = [];
  const job = { moveToDelayed: async (at: number) => void delayedUntil.push(at) } as unknown as Job;
  return { job, delayedUntil };
}

describe('rethrowEhrFailure', () => {
  it('makes a 429 a wait as long as the EHR asks, not a failure', async () => {
    const { job, delayedUntil } = recordingJob();
    const before = Date.now();
    await expect(
      rethrowEhrFailure(new EhrError('rate-limited', 'slow down', { status: 429, retryAfterMs: 5_000 }), job, 't', 'EHR refused'),
    ).rejects.toBeInstanceOf(DelayedError);
    expect(delayedUntil).toHaveLength(1);
    expect(delayedUntil[0]).toBeGreaterThanOrEqual(before + 5_000);
  });

  it('sends a refusal no retry can fix to the dead letters, saying what was refused', async () => {
    const { job, delayedUntil } = recordingJob();
    const err = rethrowEhrFailure(new EhrError('rejected', 'bad resource', { status: 422 }), job, 't', 'EHR refused the sync');
    await expect(err).rejects.toBeInstanceOf(UnrecoverableError);
    await expect(err).rejects.toThrow('EHR refused the sync: bad resource');
    expect(delayedUntil).toEqual([]);
  });

  it('rethrows a transient EHR error and anything else as it is, for a retry with backoff', async () => {
    const { job } = recordingJob();
    const outage = new EhrError('network', 'ECONNREFUSED');
    await expect(rethrowEhrFailure(outage, job, 't', 'x')).rejects.toBe(outage);
    const bug = new TypeError('oops');
    await expect(rethrowEhrFailure(bug, job, 't', 'x')).rejects.toBe(bug);
  });

  it('keeps a wait a wait', async () => {
    const { job, delayedUntil } = recordingJob();
    const wait = new DelayedError();
    await expect(rethrowEhrFailure(wait, job, 't', 'x')).rejects.toBe(wait);
    expect(delayedUntil).toEqual([]);
  });
});

describe('retryLater', () => {
  it('moves the job back within the delay and its jitter', async () => {
    const { job, delayedUntil } = recordingJob();
    const before = Date.now();
    await expect(retryLater(job, 't', 300, 300)).rejects.toBeInstanceOf(DelayedError);
    const after = Date.now();
    expect(delayedUntil[0]).toBeGreaterThanOrEqual(before + 300);
    expect(delayedUntil[0]).toBeLessThan(after + 600);
  });
});
