import { buildOpenApiDocument } from '@kap/contracts';
import { Router } from 'express';
import swaggerUi from 'swagger-ui-express';
import type { AppDeps, Probe } from '../deps';

const PROBE_TIMEOUT_MS = 2000;

async function runProbe(probe: Probe): Promise<{ status: 'up' | 'down'; detail?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe.check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
      }),
    ]);
    return { status: 'up' };
  } catch (err) {
    return { status: 'down', detail: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/** Liveness, readiness (database, Redis, EHR), the OpenAPI document and the page that renders it. */
export function systemRoutes(deps: AppDeps): Router {
  const router = Router();
  const probes: Probe[] = [{ name: 'database', critical: true, check: () => deps.db.ping() }, ...(deps.probes ?? [])];
  const document = buildOpenApiDocument();

  router.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/ready', async (_req, res) => {
    const results = await Promise.all(probes.map(async (p) => [p.name, await runProbe(p)] as const));
    const ready = results.every(([name, r]) => r.status === 'up' || !probes.find((p) => p.name === name)?.critical);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready', checks: Object.fromEntries(results) });
  });
  router.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  router.use(
    '/docs',
    swaggerUi.serve,
    swaggerUi.setup(undefined, { swaggerOptions: { url: '/openapi.json', validatorUrl: null }, customSiteTitle: 'KAP FHIR adapter API' }),
  );
  return router;
}
