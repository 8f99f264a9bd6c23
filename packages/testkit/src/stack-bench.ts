/**
 * Helpers the stack benchmarks share (sync, scheduling, concurrency): a stack that is
 * always closed, the API app on a loopback port, enrolments through it, Redis key memory.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { Express } from 'express';
import { WORK } from '@kap/queue';
import { screeningRequest } from './requests';
import { startStack, type Stack, type StackOptions } from './stack';
import { pool, postJson, sessionRequest } from './bodies';
import { until } from './poll';

/** Runs `fn` on a fresh stack (with the API listening) and closes both even if `fn` throws. */
export async function withStack<T>(
  env: Record<string, string>,
  fn: (stack: Stack, url: string) => Promise<T>,
  options: StackOptions = {},
): Promise<T> {
  const stack = await startStack({ LOG_LEVEL: 'warn', ...env }, options);
  try {
    const server = await listen(stack.app);
    try {
      return await fn(stack, server.url);
    } finally {
      await server.close();
    }
  } finally {
    await stack.close();
  }
}

export async function listen(app: Express): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(app);
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function expectStatus(what: string, r: { status: number; body: unknown }): void {
  if (r.status !== 200 && r.status !== 201) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
}

/** A screening and a course for it; returns the course id. */
export async function createCourse(url: string): Promise<string> {
  const s = await postJson(`${url}/v1/screenings`, screeningRequest());
  expectStatus('screening', s);
  const c = await postJson(`${url}/v1/courses`, { screeningId: s.body.screeningId });
  expectStatus('course', c);
  return c.body.courseId as string;
}

export async function recordSession(url: string, courseId: string): Promise<void> {
  expectStatus('dosing session', await postJson(`${url}/v1/courses/${courseId}/dosing-sessions`, sessionRequest(1)));
}

/** `n` enrolments (screening, course, dosing session 1), `concurrency` at a time; returns the course ids. */
export async function enrol(url: string, n: number, concurrency = 4): Promise<string[]> {
  return pool(Array.from({ length: n }), concurrency, async () => {
    const courseId = await createCourse(url);
    await recordSession(url, courseId);
    return courseId;
  });
}

/** Outbox rows still open of the given topics. */
async function openRows(stack: Stack, topics: readonly string[]): Promise<number> {
  const rows = await stack.db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM outbox WHERE completed_at IS NULL AND topic = ANY($1::text[])',
    [topics],
  );
  return rows[0]?.n ?? 0;
}

/**
 * Waits until the work an enrolment causes beside its EHR sync (the course note rebuilt and
 * rendered, webhooks) is done, so that a sync benchmark's clock times the sync alone and its
 * direct baseline reads the same resources (the course note's DocumentReference among them).
 */
export async function settledBesideSync(stack: Stack, timeoutMs = 60_000): Promise<void> {
  const others = Object.values(WORK)
    .map((u) => u.topic)
    .filter((t) => t !== WORK.ehrSync.topic && t !== WORK.followUpSchedule.topic && t !== WORK.safetyAlertEscalation.topic);
  await until(async () => (await openRows(stack, others)) === 0, timeoutMs, 'the work beside the EHR sync', 20);
}

/**
 * `stack.drained`, looked at every 10 ms instead of 200: a benchmark's clock stops within
 * 10 ms of the last row completing, not up to 200 ms later (a sixth of a one-second run).
 */
export async function drainedNow(stack: Stack, timeoutMs = 60_000): Promise<void> {
  await stack.drained(timeoutMs, 10);
}

/** Bytes `MEMORY USAGE` reports, summed over the keys matching `pattern` (SCAN). */
export async function keyMemory(redis: Redis, pattern: string): Promise<{ bytes: number; keys: number }> {
  let cursor = '0';
  let bytes = 0;
  let keys = 0;
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    for (const key of batch) {
      bytes += Number((await redis.memory('USAGE', key)) ?? 0);
      keys++;
    }
  } while (cursor !== '0');
  return { bytes, keys };
}

/** Deletes the keys matching `pattern` (for the benchmarks' own raw BullMQ queues). */
export async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (batch.length > 0) await redis.del(...batch);
  } while (cursor !== '0');
}

/** Exits 0 when `main` resolves, 1 (with the error) when it rejects, as the other benchmarks do. */
export function run(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
