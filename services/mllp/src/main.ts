import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { databaseOptions, loadConfig, loadTenants } from '@kap/config';
import { openDatabase } from '@kap/store';
import pino from 'pino';
import client from 'prom-client';
import { startConfiguredMllp } from './start';

/**
 * The MLLP listener as its own process, beside the API on the same PostgreSQL: it only
 * stores messages (with their outbox rows) and acknowledges them; the worker applies them.
 * The only file here that reads `process.env`.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  // The tenants file is read here, at the edge; parsing and checking it is @kap/config's.
  const tenants = loadTenants(process.env, config.TENANTS_FILE ? { path: config.TENANTS_FILE, text: readFileSync(config.TENANTS_FILE, 'utf8') } : undefined);
  const logger = pino({ level: config.LOG_LEVEL, base: { service: 'mllp' } });
  if (config.MLLP_PORT === undefined) throw new Error('MLLP_PORT is not set: nothing to listen on');
  if (!config.DATABASE_URL) {
    logger.warn('no DATABASE_URL: the embedded database is private to this process, and no worker will see these messages');
  }
  const db = await openDatabase(databaseOptions(config));
  const listener = await startConfiguredMllp(config, db, logger, tenants);
  let metrics: ReturnType<typeof createServer> | undefined;
  if (config.METRICS_PORT) {
    client.collectDefaultMetrics({ prefix: 'kap_mllp_' });
    metrics = createServer((req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end();
      client.register.metrics().then(
        (body) => res.writeHead(200, { 'Content-Type': client.register.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    }).listen(config.METRICS_PORT, '0.0.0.0');
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'mllp listener shutting down');
    setTimeout(() => process.exit(1), 10_000).unref();
    metrics?.close();
    void (listener?.close() ?? Promise.resolve())
      .then(() => db.close())
      .then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
