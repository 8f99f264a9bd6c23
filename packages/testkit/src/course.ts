import request from 'supertest';
import { auditEhr } from './ehr-audit';
import { screeningRequest, sessionOneRequest, courseStartYesterday } from './requests';
import type { Stack } from './stack';

/** Records a screening, starts its course and records session 1: about thirty resources for the EHR. */
export async function enrol(stack: Stack): Promise<string> {
  const screening = await request(stack.app).post('/v1/screenings').send(screeningRequest()).expect(201);
  const course = await request(stack.app)
    .post('/v1/courses')
    .send({ screeningId: screening.body.screeningId, startDate: courseStartYesterday() })
    .expect(201);
  const start = new Date(Date.now() - 2 * 3600_000);
  await request(stack.app).post(`/v1/courses/${course.body.courseId}/dosing-sessions`).send(sessionOneRequest(start)).expect(201);
  return course.body.courseId as string;
}

/** What `GET /v1/admin/sync-status` says of the one tenant. */
export async function syncStatus(stack: Stack): Promise<{ pending: number; synced: number; dead: number; oldestPendingSeconds: number }> {
  const res = await request(stack.app).get('/v1/admin/sync-status').expect(200);
  return res.body.tenants[0];
}

/** Once the work is done: every accepted resource is in the EHR exactly once, and nothing is pending. */
export async function expectExactlyOnce(stack: Stack, options: { ehrMayHoldMore?: boolean } = {}): Promise<void> {
  await stack.drained(90_000);
  const audit = await auditEhr(stack.db, stack.sandbox.url);
  expect(audit.duplicates).toEqual([]);
  expect(audit.missing).toEqual([]);
  if (!options.ehrMayHoldMore) expect(audit.ehr).toEqual(audit.local);
  expect(await syncStatus(stack)).toMatchObject({ pending: 0, dead: 0, oldestPendingSeconds: 0 });
}
