/**
 * The database's own limit for a command, behind the same HTTP shape as the API: express with
 * the API's JSON body limit, a pg pool of the API's size on the same schema, and per request
 * the SQL the API ran for one such request (captured at the driver, bench/lib/sql-capture.ts)
 * replayed with fresh ids: same tables, indexes, transactions, tenant settings and outbox
 * rows, no mapping, validation or Redis. What the API adds on top is the product's own cost.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pool as runPool } from '@kap/testkit/bodies';
import { FreshValues, replay, storePg, type CapturedCall } from './sql-capture';

export interface DbLimitScripts {
  readonly screening: CapturedCall[];
  readonly course: CapturedCall[];
  readonly session: CapturedCall[];
  /** Natural keys in the captures (the hospital identifier) that each replay renames. */
  readonly renamed: string[];
}

/** The API's pool size (packages/store/src/postgres-db.ts default). */
const POOL_SIZE = 10;

export async function startDbLimitServer(): Promise<void> {
  const scripts = JSON.parse(readFileSync(String(process.env.BENCH_DBLIMIT_SCRIPTS), 'utf8')) as DbLimitScripts;
  const { Pool } = storePg();
  const schema = process.env.DATABASE_SCHEMA;
  const db = new Pool({
    connectionString: process.env.DATABASE_URL,
    max: POOL_SIZE,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  db.on('error', () => undefined);
  // Courses made beforehand for the dosing-session requests, each with the ids its replay chose.
  const courses: FreshValues[] = [];
  let nextCourse = 0;

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '1mb', type: ['application/json', 'application/fhir+json'] }));
  const handle = (work: () => Promise<void>) => (_req: express.Request, res: express.Response) => {
    work().then(
      () => res.status(201).json({ status: 'created' }),
      (error: Error) => res.status(500).json({ error: error.message }),
    );
  };
  app.post(
    '/v1/screenings',
    handle(() => replay(db, scripts.screening, new FreshValues(scripts.renamed))),
  );
  app.post(
    '/v1/courses/:id/dosing-sessions',
    handle(async () => {
      const fresh = courses[nextCourse++];
      if (!fresh) throw new Error('no course left: prepare more');
      await replay(db, scripts.session, fresh);
    }),
  );
  process.on('message', (m: { prepare?: number }) => {
    if (typeof m?.prepare !== 'number') return;
    const n = m.prepare;
    void runPool(Array.from({ length: n }), 4, async () => {
      const fresh = new FreshValues(scripts.renamed);
      await replay(db, scripts.screening, fresh);
      await replay(db, scripts.course, fresh);
      courses.push(fresh);
    }).then(
      () => process.send?.({ prepared: n }),
      (error: Error) => process.send?.({ prepareFailed: error.message }),
    );
  });
  const server = app.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  process.on('SIGTERM', () => {
    server.close();
    void db.end().then(() => process.exit(0));
  });
}
