import express from 'express';
import type { Router } from 'express';
import type { Resource } from '@medplum/fhirtypes';
import { errorOutcome, HttpError } from '../fhir/outcomes';
import type { FaultSpec } from './faults';
import { faultSpecSchema } from './faults';
import type { SandboxStats } from './stats';

/** The sandbox operations the admin endpoints expose. */
export interface AdminControls {
  injectFault(spec: FaultSpec): void;
  clearFaults(): void;
  reset(): void;
  stats(): SandboxStats;
  seed(resource: Resource): Promise<Resource>;
}

/**
 * Test controls under `/__admin`, outside the FHIR base so no FHIR client can hit them by
 * accident, and never behind FHIR authentication or fault injection.
 */
export function adminRoutes(controls: AdminControls): Router {
  const routes = express.Router();
  routes.use(express.json());
  routes.post('/faults', (req, res) => {
    const parsed = faultSpecSchema.safeParse(req.body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new HttpError(
        400,
        errorOutcome('invalid', issue?.message ?? 'Invalid fault', issue?.path.length ? issue.path.join('.') : undefined),
      );
    }
    controls.injectFault(parsed.data);
    res.status(201).json(parsed.data);
  });
  routes.delete('/faults', (_req, res) => {
    controls.clearFaults();
    res.status(204).end();
  });
  routes.post('/reset', (_req, res) => {
    controls.reset();
    res.status(204).end();
  });
  // The hospital's own records (a Patient registered at admission, say), written past the
  // profile and scopes, which bind outside clients only.
  routes.post('/seed', async (req, res, next) => {
    try {
      const body = req.body as Resource | undefined;
      if (!body || typeof body !== 'object' || typeof body.resourceType !== 'string') {
        throw new HttpError(400, errorOutcome('invalid', 'Expected a FHIR resource', 'resourceType'));
      }
      res.status(201).json(await controls.seed(body));
    } catch (err) {
      next(err);
    }
  });
  routes.get('/stats', (_req, res) => {
    res.status(200).json(controls.stats());
  });
  return routes;
}
