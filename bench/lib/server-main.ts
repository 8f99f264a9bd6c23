/**
 * A server for the HTTP benchmarks, in its own process so the load generator does not
 * share its event loop: `api` is the real API (services/api startApi, production wiring,
 * on a PostgreSQL schema and a Redis prefix given in the environment); `bare` is a bare
 * express app that parses the same JSON and answers 201. Sends `{ port }` over IPC.
 */
import type { AddressInfo } from 'node:net';
import { databaseOptions, loadConfig } from '@kap/config';
import { openDatabase } from '@kap/store';
import express from 'express';
import pino from 'pino';
import { startApi } from '../../services/api/src/server';

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
  const config = loadConfig({ ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  const db = await openDatabase(databaseOptions(config));
  const api = await startApi(config, db, pino({ level: config.LOG_LEVEL }));
  process.send?.({ port: (api.server.address() as AddressInfo).port });
  process.on('SIGTERM', () => {
    void api.close().then(() => db.close()).then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
