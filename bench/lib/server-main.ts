/**
 * A server for the HTTP benchmarks, in its own process so the load generator does not
 * share its event loop: `api` is the real API (services/api startApi, production wiring,
 * on a PostgreSQL schema and a Redis prefix given in the environment); `bare` is a bare
 * express app that parses the same JSON and answers 201; `dblimit` is the same express shape
 * whose handlers replay the SQL a screening or dosing session runs (bench/lib/db-limit.ts).
 * Sends `{ port }` over IPC. With BENCH_CAPTURE_SQL=1 the API records its driver calls
 * between the `capture-start` and `capture-stop` messages and sends them back.
 */
import type { AddressInfo } from 'node:net';
import { databaseOptions, loadConfig } from '@kap/config';
import { openDatabase } from '@kap/store';
import express from 'express';
import pino from 'pino';
import { startApi } from '@kap/api';
import { startDbLimitServer } from './db-limit';
import { installCapture } from './sql-capture';

async function main(): Promise<void> {
  const mode = process.argv[2];
  if (mode === 'bare') {
    const app = express();
    app.disable('x-powered-by');
    app.use(express.json({ limit: '1mb', type: ['application/json', 'application/fhir+json'] }));
    app.post(/.*/, (req, res) => {
      res.status(201).json({ received: typeof req.body === 'object' && req.body !== null ? Object.keys(req.body).length : 0 });
    });
    const server = app.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
    return;
  }
  if (mode === 'dblimit') {
    await startDbLimitServer();
    return;
  }
  const capture = process.env.BENCH_CAPTURE_SQL === '1' ? installCapture() : undefined;
  if (capture) {
    process.on('message', (m: string) => {
      if (m === 'capture-start') {
        capture.start();
        process.send?.({ captureStarted: true });
      }
      if (m === 'capture-stop') process.send?.({ captured: capture.stop() });
    });
  }
  const config = loadConfig({ ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  const db = await openDatabase(databaseOptions(config));
  const api = await startApi(config, db, pino({ level: config.LOG_LEVEL }));
  process.send?.({ port: (api.server.address() as AddressInfo).port });
  process.on('SIGTERM', () => {
    void api
      .close()
      .then(() => db.close())
      .then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
