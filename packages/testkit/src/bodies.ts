import type { DosingSessionRequest } from '@kap/contracts';

/** A dosing session 1 body that ended two hours ago, as the e2e tests send it. */
export function sessionRequest(sessionNumber: 1 | 2 = 1): DosingSessionRequest {
  const start = new Date(Date.now() - 2 * 3600_000);
  return {
    sessionNumber,
    doseLevel: sessionNumber === 1 ? 'low' : 'moderate',
    route: 'sublingual',
    dose: { value: 100, unit: 'mg' },
    start: start.toISOString(),
    end: new Date(start.getTime() + 80 * 60_000).toISOString(),
    vitals: [{ at: start.toISOString(), systolic: 130, diastolic: 84, heartRate: 76 }],
  };
}

/** POSTs JSON and returns status and parsed body. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Runs `fn` over `items` with at most `concurrency` at once. */
export async function pool<T, R>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T, i);
      }
    }),
  );
  return out;
}
