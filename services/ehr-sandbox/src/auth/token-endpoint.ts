import { timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { AuthOptions } from './options';
import { TOKEN_PATH } from './options';
import { AssertionError, verifyClientAssertion } from './client-assertion';
import type { TokenStore } from './token-store';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const DEFAULT_TTL_SECONDS = 300;

type OAuthOptions = Extract<AuthOptions, { mode: 'oauth' }>;

/** Dependencies of the token endpoint. */
export interface TokenEndpointDeps {
  readonly options: OAuthOptions;
  readonly tokens: TokenStore;
  readonly now: () => number;
  /** Scopes granted whatever the client asks (RFC 6749 §3.3); undefined grants what it asks. */
  readonly grantScopes?: string;
}

/**
 * `POST /oauth2/token` for the client-credentials grant. The client authenticates with
 * client_secret_basic, client_secret_post, or private_key_jwt (SMART Backend Services).
 * Errors follow OAuth 2.0 (JSON `{ error }`), not FHIR, because OAuth clients parse them.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 * @see https://hl7.org/fhir/smart-app-launch/backend-services.html
 */
export function tokenEndpoint(deps: TokenEndpointDeps): RequestHandler {
  const seenJti = new Map<string, number>();
  return (req, res) => {
    const form = formOf(req);
    if (form.grant_type !== 'client_credentials') {
      oauthError(res, 400, 'unsupported_grant_type', 'Only client_credentials is supported');
      return;
    }
    const failure = authenticate(req, form, deps, seenJti);
    if (failure) {
      res.setHeader('WWW-Authenticate', 'Basic realm="ehr-sandbox"');
      oauthError(res, 401, 'invalid_client', failure);
      return;
    }
    const ttl = deps.options.tokenTtlSeconds ?? DEFAULT_TTL_SECONDS;
    // The token is held to what it was granted; RFC 6749 §5.1 has the response say so when
    // that is less than asked. No scope asked (and none configured) is full access, as on Medplum.
    const granted = deps.grantScopes ?? (form.scope?.trim() || undefined);
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).json({
      access_token: deps.tokens.issue(ttl, granted),
      token_type: 'bearer',
      expires_in: ttl,
      scope: granted ?? 'system/*.*',
    });
  };
}

/** Returns why the client failed to authenticate, or undefined on success. */
function authenticate(
  req: Request,
  form: Record<string, string | undefined>,
  deps: TokenEndpointDeps,
  seenJti: Map<string, number>,
): string | undefined {
  const { options } = deps;
  if (form.client_assertion_type !== undefined || form.client_assertion !== undefined) {
    if (form.client_assertion_type !== JWT_BEARER || !form.client_assertion) {
      return `client_assertion_type must be ${JWT_BEARER}`;
    }
    if (!options.publicJwk) {
      return 'No public key is registered for this client';
    }
    if (form.client_id !== undefined && form.client_id !== options.clientId) {
      return 'Unknown client_id';
    }
    try {
      verifyClientAssertion(form.client_assertion, {
        clientId: options.clientId,
        publicJwk: options.publicJwk,
        audience: `${req.protocol}://${req.get('host') ?? ''}${TOKEN_PATH}`,
        nowSeconds: Math.floor(deps.now() / 1000),
        seenJti,
      });
      return undefined;
    } catch (err) {
      if (err instanceof AssertionError) {
        return err.message;
      }
      return 'client_assertion could not be verified';
    }
  }
  const credentials = basicCredentials(req.get('authorization')) ?? {
    id: form.client_id,
    secret: form.client_secret,
  };
  if (!options.clientSecret) {
    return 'This client must authenticate with a signed client_assertion';
  }
  if (credentials.id !== options.clientId || !safeEqual(credentials.secret ?? '', options.clientSecret)) {
    return 'Invalid client credentials';
  }
  return undefined;
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before base64. */
function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const match = /^Basic\s+(.+)$/i.exec(header ?? '');
  if (!match?.[1]) {
    return undefined;
  }
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) {
    return undefined;
  }
  const decode = (s: string): string => decodeURIComponent(s.replace(/\+/g, ' '));
  return { id: decode(decoded.slice(0, colon)), secret: decode(decoded.slice(colon + 1)) };
}

function formOf(req: Request): Record<string, string | undefined> {
  const body: unknown = req.body;
  const form: Record<string, string | undefined> = {};
  if (body && typeof body === 'object') {
    for (const [key, value] of Object.entries(body)) {
      if (typeof value === 'string') {
        form[key] = value;
      }
    }
  }
  return form;
}

function oauthError(res: Response, status: number, error: string, description: string): void {
  res.status(status).json({ error, error_description: description });
}

/** Constant-time comparison so a secret cannot be guessed byte by byte from timings. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
