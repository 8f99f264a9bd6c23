/**
 * Helpers the stack benchmarks share (sync, scheduling, concurrency): a stack that is
 * always closed, the API app on a loopback port, enrolments through it, Redis key memory.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { Express } from 'express';
import { screeningRequest } from './requests';
import { startStack, type Stack, type StackOptions } from './stack';
import { pool, postJson, sessionRequest } from './bodies';

/** Runs `fn` on a fresh stack (with the API listening) and closes both even if `fn` throws. */
export async function withStack<T>(env: Record<string, string>, fn: (stack: Stack, url: string) => Promise<T>, options: StackOptions = {}): Promise<T> {
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
