import { createServer, type Server } from 'node:http';
import { ConfigError } from '@kap/config';
import { loadProcessSettings, runDatabaseService } from '@kap/runtime';
import client from 'prom-client';
import { startConfiguredMllp } from './start';

/**
 * The MLLP listener as its own process, beside the API on the same PostgreSQL: it only
 * stores messages (with their outbox rows) and acknowledges them; the worker applies them.
 * The only file here that reads `process.env`.
 */
void runDatabaseService({
  name: 'mllp',
  settings: (env) => {
    const settings = loadProcessSettings(env);
    if (settings.config.MLLP_PORT === undefined) throw new ConfigError('MLLP_PORT is not set: nothing to listen on');
    return settings;
  },
  shutdownTimeoutMs: 10_000,
  start: async ({ config, tenants }, db, lifecycle, logger) => {
    if (!config.DATABASE_URL) {
      logger.warn('no DATABASE_URL: the embedded database is private to this process, and no worker will see these messages');
    }
    const listener = await startConfiguredMllp(config, db, logger, tenants);
    if (listener) lifecycle.onStop('mllp listener', () => listener.close());
    if (config.METRICS_PORT) {
      client.collectDefaultMetrics({ prefix: 'kap_mllp_' });
      const metrics: Server = createServer((req, res) => {
        if (req.url !== '/metrics') return void res.writeHead(404).end();
        client.register.metrics().then(
          (body) => res.writeHead(200, { 'Content-Type': client.register.contentType }).end(body),
          () => res.writeHead(500).end(),
        );
      }).listen(config.METRICS_PORT, '0.0.0.0');
      lifecycle.onStop('metrics', () => void metrics.close());
    }
  },
});
