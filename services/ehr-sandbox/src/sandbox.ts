import type { Resource, Subscription } from '@medplum/fhirtypes';
import express from 'express';
import type { FaultSpec } from './admin/faults';
import { FaultInjector } from './admin/faults';
import { adminRoutes } from './admin/routes';
import type { SandboxStats } from './admin/stats';
import { RequestCounter } from './admin/stats';
import type { AuthOptions } from './auth/options';
import { TOKEN_PATH } from './auth/options';
import { tokenEndpoint } from './auth/token-endpoint';
import { TokenStore } from './auth/token-store';
import { loadFhirDefinitions } from './fhir/definitions';
import { sandboxPolicy, type SandboxPolicy, type SandboxPolicyOptions } from './fhir/policy';
import { restHookDispatcher } from './fhir/rest-hooks';
import { createFhirRouter } from './fhir/routes';
import { errorHandler } from './http/errors';
import { fhirRoutes } from './http/fhir-routes';
import { KeyedLock } from './store/keyed-lock';
import { SandboxRepository } from './store/sandbox-repository';

/** Path of the FHIR base under the server root. */
export const FHIR_BASE_PATH = '/fhir/R4';

/**
 * Options of {@link createSandbox}; every field is optional. The policy fields (profile,
 * transaction limits, accepted types) make it as strict as the real servers: see {@link SandboxPolicyOptions}.
 */
export interface SandboxOptions extends SandboxPolicyOptions {
  /** Authentication of FHIR requests; default `{ mode: 'none' }`. */
  readonly auth?: AuthOptions;
  /** Reject writes with references to missing resources or unresolved `urn:uuid:`s; default true. */
  readonly referentialIntegrity?: boolean;
  /** Maximum request body, in express/bytes notation; default '20mb'. */
  readonly bodyLimit?: string;
  /** Clock in epoch milliseconds, for token expiry and fault durations; default Date.now. */
  readonly clock?: () => number;
  /**
   * Fire classic R4 rest-hook Subscriptions (search criteria) to endpoints on this machine,
   * as Medplum does; default false, so a test that only stores Subscriptions gets no calls.
   */
  readonly restHooks?: boolean;
}

/** An embedded FHIR R4 server, not yet listening. */
export interface Sandbox {
  /** The express application: FHIR at `/fhir/R4`, OAuth at `/oauth2/token`, controls at `/__admin`. */
  readonly app: express.Express;
  /** Deletes all resources, armed faults and request counts (issued tokens stay valid). */
  reset(): void;
  /** Arms a fault, as `POST /__admin/faults` does. */
  injectFault(spec: FaultSpec): void;
  /** Disarms every fault, as `DELETE /__admin/faults` does. */
  clearFaults(): void;
  /** How many armed faults requests have met so far. */
  faultsTaken(): number;
  /**
   * Writes a resource as the hospital would (a Patient registered at admission), past the
   * profile and the token's scopes, as `POST /__admin/seed` does. The id is server-assigned.
   */
  seed<T extends Resource>(resource: T): Promise<T>;
  /** Request counts and live resource counts, as `GET /__admin/stats` returns. */
  stats(): SandboxStats;
  /** The repository behind the endpoint, for in-process inspection. */
  readonly repository: SandboxRepository;
  /** What it accepts, as its CapabilityStatement states. */
  readonly policy: SandboxPolicy;
}

/**
 * Builds the sandbox FHIR server: Medplum's FhirRouter over a versioned in-memory repository,
 * with all-or-nothing transactions, writes locked per identity, fault injection and optional OAuth.
 * Each call is independent; nothing is shared between sandboxes except Medplum's global
 * FHIR schema, which is immutable once loaded.
 * @see http://hl7.org/fhir/R4/http.html
 */
export function createSandbox(options: SandboxOptions = {}): Sandbox {
  loadFhirDefinitions();
  const clock = options.clock ?? Date.now;
  const auth: AuthOptions = options.auth ?? { mode: 'none' };
  const policy = sandboxPolicy(options);
  let subscriptions: () => Subscription[] = () => [];
  const repository = new SandboxRepository({
    referentialIntegrity: options.referentialIntegrity,
    now: () => new Date(clock()),
    profileValidation: policy.profileValidation,
    ...(options.restHooks ? { onCommitted: restHookDispatcher(() => subscriptions()) } : {}),
  });
  subscriptions = () => repository.live<Subscription>('Subscription');
  const faults = new FaultInjector(clock);
  const counter = new RequestCounter();
  const tokens = new TokenStore(clock);
  const locks = new KeyedLock();

  const controls = {
    injectFault: (spec: FaultSpec) => faults.arm(spec),
    clearFaults: () => faults.clear(),
    faultsTaken: () => faults.taken,
    reset: () => {
      repository.clear();
      faults.clear();
      counter.reset();
    },
    stats: () => counter.snapshot(repository.counts()),
    seed: <T extends Resource>(resource: T): Promise<T> => repository.createResource({ ...resource, id: undefined }) as Promise<T>,
  };

  const app = express();
  // Express's own ETag (a body hash) would be mistaken by FHIR clients for a version id.
  app.set('etag', false);
  app.set('x-powered-by', false);
  app.use((req, res, next) => {
    if (!req.path.startsWith('/__admin')) {
      res.on('finish', () => counter.record(req.method, res.statusCode));
    }
    next();
  });
  app.use('/__admin', adminRoutes(controls));
  if (auth.mode === 'oauth') {
    app.post(
      TOKEN_PATH,
      express.urlencoded({ extended: false }),
      tokenEndpoint({ options: auth, tokens, now: clock, ...(policy.grantScopes ? { grantScopes: policy.grantScopes } : {}) }),
    );
  }
  app.use(
    FHIR_BASE_PATH,
    fhirRoutes({
      router: createFhirRouter(repository, { updateCreate: policy.updateCreate }),
      policy,
      repo: repository,
      locks,
      faults,
      auth,
      tokens,
      bodyLimit: options.bodyLimit ?? '20mb',
    }),
  );
  app.use(errorHandler);
  return { app, repository, policy, ...controls };
}
